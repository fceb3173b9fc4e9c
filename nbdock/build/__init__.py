"""nbdock.build."""
