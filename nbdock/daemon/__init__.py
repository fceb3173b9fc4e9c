"""nbdock.daemon."""
