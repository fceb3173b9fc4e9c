"""nbdock.client."""
