"""The floor everything else stands on: the kernel's calls, and paths inside an untrusted root.

* :mod:`nbdock.kernel.libc` -- the system calls Python's ``os`` lacks, each
  with the kernel's preconditions;
* :mod:`nbdock.kernel.saferoot` -- opening, making and resolving a path
  inside a directory tree someone else made (an image, a container, a build
  context, an archive), with one ``openat2(2)`` resolve mask per purpose.

Nothing here imports the rest of nbdock: the runtime, the image store, the
builder, the network and the daemon all build on it.
"""
