"""Puente: an open, self-hostable node for binational trafficking intelligence."""

# the one place the version is written (pyproject.toml reads it); 0.1.0 was commit b5f048d
__version__ = "0.2.0.dev0"
