"""Command-line interface: ``ecgfoundry <command>``. The only package that imports ``train``."""
