"""Puente: an open, self-hostable node for binational trafficking intelligence."""

__version__ = "0.1.0"
