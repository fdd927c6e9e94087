"""ecgfoundry.report"""
