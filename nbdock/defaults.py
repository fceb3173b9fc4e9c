"""Where nbdock lives on a host unless told otherwise (the daemon's flags, the clients' defaults)."""

#: The daemon's socket (Docker's is unix:///var/run/docker.sock).
DEFAULT_HOST = "unix:///run/nbdock/nbdock.sock"
#: Images, containers, volumes and networks (Docker's is /var/lib/docker).
DEFAULT_DATA_ROOT = "/var/lib/nbdock"
