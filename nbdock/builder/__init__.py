"""nbdock.builder."""
