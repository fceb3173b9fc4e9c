"""nbdock.image: where images live, and how they get in and out.

* :mod:`.store`     -- :class:`ImageStore`: content-addressed blobs, layers shared by DiffID and
  unpacked once for overlayfs, image configs, tags, ``rmi``, ``prune``, ``history``;
* :mod:`.reference` -- image names normalized as Docker does (``busybox`` = ``docker.io/library/busybox:latest``);
* :mod:`.layers`    -- deterministic layer tars from directories, ``docker diff`` from an overlay upper dir;
* :mod:`.tarsafe`   -- the one extraction routine for untrusted tars (layers, archives, contexts, cp);
* :mod:`.archive`   -- ``save``/``load`` (Docker's archive format), OCI layout export, ``import``;
* :mod:`.busybox`   -- ``busybox:latest`` made offline from the host's static busybox.
"""
