"""ecgfoundry.bench"""
