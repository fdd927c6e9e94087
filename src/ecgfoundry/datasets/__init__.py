"""ecgfoundry.datasets"""
