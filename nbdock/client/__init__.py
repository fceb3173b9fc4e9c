"""nbdock's client side: docker's commands, spoken to the daemon through docker-py.

* :mod:`.connection` -- where the daemon is (``--host``, ``$NBDOCK_HOST``,
  ``unix:///run/nbdock/nbdock.sock``), starting an embedded one when nobody
  answers, watching each request, nbdock's own ``/nbdock/v1`` endpoints;
* :mod:`.flags` and :mod:`.syntax` -- docker's command-line syntax and the
  table of every command and flag;
* :mod:`.container_config` -- ``run``/``create`` flags -> the create body;
* :mod:`.commands` -- the commands themselves, shared by the ``nbdock`` CLI
  and the ``%dock`` magic;
* :mod:`.compose` -- the real ``docker-compose`` run against the daemon (``%%compose``);
* :mod:`.console`, :mod:`.streams`, :mod:`.formatting`, :mod:`.stats` --
  how their output is read and printed, as the docker CLI prints it.
"""
