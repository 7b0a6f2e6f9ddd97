"""twin: a 3D digital twin server for a metropolis."""

__version__ = "0.1.0"
