"""``python -m nbdock ...``: the same as the ``nbdock`` command."""

import os
import sys


def shadowing_folder() -> str | None:
    """The folder Python took for the package ``nbdock`` instead of this one, or None.

    ``python -m`` puts the current directory first on ``sys.path``, so a
    folder named ``nbdock`` there (the clone of a repository, say) is found
    first.  Without an ``__init__.py`` it becomes a *namespace package*: the
    import system takes that folder for ``nbdock``, and this package's
    ``__init__.py`` never runs.  Yet this file still runs, because an editable
    install (``pip install -e``) adds a finder that locates ``nbdock.__main__``
    in the source tree when the namespace folder has none.  So this is the
    first of nbdock's code to execute, and the one place that can tell: the
    module named ``nbdock`` is not the package this file belongs to.
    """
    package = sys.modules.get("nbdock")
    here = os.path.dirname(os.path.abspath(__file__))
    if package is None:
        return None
    location = getattr(package, "__file__", None)  # None for a namespace package
    if location is not None and os.path.dirname(os.path.abspath(location)) == here:
        return None
    folders = [os.path.abspath(p) for p in getattr(package, "__path__", [])] or [os.path.dirname(location)]
    return next((folder for folder in folders if folder != here), folders[0])


def main() -> int:
    folder = shadowing_folder()
    if folder is not None:
        sys.stderr.write(f"nbdock: a folder named nbdock in {os.path.dirname(folder)} shadows the installed package; "
                         "run from another directory\n")
        return 1
    from nbdock.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
