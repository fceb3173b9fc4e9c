"""nbdock.views."""
