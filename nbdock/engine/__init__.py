"""nbdock.engine."""
