"""The one version source (setup.cfg reads it; indexes, caches and the manifest record it)."""

__version__ = "0.1.0"
