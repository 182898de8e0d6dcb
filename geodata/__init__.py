"""Where things are: administrative units, their boundaries, and their names."""

from geodata.errors import VnbbError
from geodata.registry import Registry, Unit, load_registry

__all__ = ["Registry", "Unit", "VnbbError", "load_registry"]
