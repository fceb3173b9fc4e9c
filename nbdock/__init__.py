"""nbdock: a container engine in Python, driven from Jupyter notebooks.

``%load_ext nbdock`` registers the ``%dock`` and ``%%dockerfile`` magics.
"""

__version__ = "0.1.0"


def load_ipython_extension(ipython):  # pragma: no cover - exercised through IPython
    from .magics import load_ipython_extension as _load

    _load(ipython)
