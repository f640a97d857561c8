"""The single source of lrbook's version number."""

__version__ = "0.1.0"
