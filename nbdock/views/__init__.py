"""nbdock's notebook views: what the kernel does for a container, shown rather than told.

* :mod:`.data` -- the tables behind the views (namespaces, cgroup files,
  the kernel-operation trace, an image's layers): the rows the CLI prints
  (:mod:`nbdock.client.kernel_views`), as DataFrames;
* :mod:`.layers` -- the layer explorer widget (``%dock layers IMAGE``);
* :mod:`.stats_plot` -- memory and CPU drawn live (``%dock stats NAME --plot``), a panel per limit
  the container has (``--plot memory``/``cpu``: that one), and a line where the engine saw an OOM kill;
* :mod:`.netmap` -- the overlay networks across hosts drawn (``%dock net map``);
* :mod:`.attach` -- a container's stdin/stdout in the cell (``%dock attach NAME``);
* :mod:`.compose_graph` -- a compose application drawn: services, containers, networks with
  addresses and DNS names, ports, volumes, depends_on (``%compose graph PROJECT``);
* :mod:`.notebook_console` -- how command output lands in a cell.
"""
