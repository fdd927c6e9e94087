"""ecgfoundry.eval"""
