"""nbdock's notebook views: what the kernel does for a container, shown rather than told.

* :mod:`.data` -- the tables behind the views (namespaces, cgroup files,
  the kernel-operation trace, an image's layers), from the daemon's
  ``/nbdock/v1`` endpoints;
* :mod:`.layers` -- the layer explorer widget (``%dock layers IMAGE``);
* :mod:`.stats_plot` -- memory and CPU drawn live (``%dock stats NAME --plot``), a panel per limit
  the container has, and a line where the engine saw an OOM kill;
* :mod:`.attach` -- a container's stdin/stdout in the cell (``%dock attach NAME``);
* :mod:`.compose_graph` -- a compose application drawn: services, containers, networks with
  addresses and DNS names, ports, volumes, depends_on (``%compose graph PROJECT``);
* :mod:`.notebook_console` -- how command output lands in a cell.
"""
