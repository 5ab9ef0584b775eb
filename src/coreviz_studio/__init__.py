"""coreviz-studio: a self-hosted visual library server that speaks the CoreViz Studio API."""

__version__ = "0.1.0"
