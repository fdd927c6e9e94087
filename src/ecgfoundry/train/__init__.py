"""ecgfoundry.train"""
