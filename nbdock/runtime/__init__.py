"""nbdock's container runtime: the part that talks to the kernel.

One module per kernel concept -- namespaces, the root file system, devices,
cgroups, capabilities, users, processes -- and a trace of every step.  See
docs/ARCHITECTURE.md for how they fit together.
"""
