"""The engine: containers, images, volumes, networks and events, behind one object.

The daemon serves the Docker Engine API as a thin layer over
:class:`~nbdock.engine.engine.Engine`.
"""

from .engine import API_VERSION, MIN_API_VERSION, Engine

__all__ = ["Engine", "API_VERSION", "MIN_API_VERSION"]
