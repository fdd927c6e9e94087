"""ecgfoundry.models"""
