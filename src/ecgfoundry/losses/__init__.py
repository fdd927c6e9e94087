"""ecgfoundry.losses"""
