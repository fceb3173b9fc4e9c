"""The nbdock daemon: the Docker Engine API on a unix socket, a thin layer over the engine."""


def main(argv: list[str] | None = None) -> int:
    from .server import main as serve_main

    return serve_main(argv)
