"""The notebook front end: ``%dock``, ``%%dockerfile`` and ``%%compose``.

    %load_ext nbdock
    %dock run --rm busybox echo hello        # any docker command, output streamed into the cell
    %dock ps -a                              # listings come back as pandas DataFrames
    %%dockerfile myimage:1                   # the cell is the Dockerfile (context: the files its COPY/ADD name)
    %%dockerfile myimage:1 --context DIR     # ... with the whole of DIR as its context
    %%compose myapp up -d                    # the cell is a compose file, run by the real docker-compose
    %compose myapp ps                        # any compose command on that project
    %compose graph myapp                     # a picture of the running application

and nbdock's views of what the kernel does: ``%dock layers IMAGE``,
``%dock stats NAME --plot [memory|cpu]``, ``%dock ns NAME``, ``%dock cgroup NAME``,
``%dock trace NAME``, ``%dock attach NAME``, ``%dock api on|off``.

Errors: a failing command raises IPython's ``UsageError`` -- one line, no
traceback, and it stops "run all" the way an exception does; its words are
the CLI's (:func:`nbdock.client.errors.translate`).  A container
that merely exits non-zero is not an error of ours: it prints
``[exit code N]``.  Settings are traitlets, set with ``%config``::

    %config NbdockMagics.host = "unix:///tmp/other.sock"
    %config NbdockMagics.show_api = True
"""

from __future__ import annotations

import html
import os
import shlex
from typing import Callable, ClassVar

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class
from IPython.display import HTML, display
from traitlets import Bool, Unicode, observe
from traitlets.config import Configurable

from nbdock.client import cell_context
from nbdock.client import compose as compose_tool
from nbdock.client import flags
from nbdock.client import stats as stats_math
from nbdock.client.commands import Session, parse_words, run_parsed
from nbdock.client.commands.images import build_image, parse_build_arg
from nbdock.client.connection import ApiCall, Connection
from nbdock.client.errors import CommandError, client_errors, translate
from nbdock.client.flags import Command, Flag, Parsed, parse
from nbdock.errors import NbdockError
from nbdock.views import data
from nbdock.views.notebook_console import NotebookConsole

PROGRAM = "%dock"

#: How ``%dock stats`` samples one container (docker's ``stats`` flags, and nbdock's own three).
STATS_USAGE = "stats NAME [--seconds S] [--interval I] [--plot [memory|cpu]]  (or --no-stream, docker's table)"

#: Commands whose exit code is the container's (or exec's) own, not a failure of ours.
CONTAINER_EXIT_COMMANDS = ("run", "start", "attach", "exec")

DOCKERFILE_SYNTAX = Command(
    "dockerfile", "TAG [--context DIR] [--no-cache] [--build-arg K=V ...] [--rm=false]",
    "Build the cell as a Dockerfile.  The build context is DIR; without --context, only the files the cell's\n"
    "COPY/ADD name, from the notebook's folder (and its .dockerignore)", (
        Flag("context", kind="value", help="the build context directory (default: only what COPY/ADD name)"),
        Flag("no-cache", help="do not use cached steps"),
        Flag("build-arg", kind="list", help="a build-time variable K=V"),
        Flag("rm", help="remove intermediate containers after a successful build", default=True),
    ), min_args=1, max_args=1,
)


@magics_class
class NbdockMagics(Magics, Configurable):
    host = Unicode("", help="The daemon's address (unix:///path.sock); empty: $NBDOCK_HOST, else the default").tag(config=True)
    show_api = Bool(False, help="Print each HTTP request %dock sends to the daemon, and the status it got").tag(config=True)

    def __init__(self, shell):
        Configurable.__init__(self, config=shell.config)
        Magics.__init__(self, shell=shell)
        # Registering makes `%config NbdockMagics.x = ...` reach this instance.
        self.shell.configurables.append(self)
        self._connection: Connection | None = None
        self._compose_project: str | None = None  # the project of the last %%compose cell

    # -- the connection ------------------------------------------------------

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            try:
                self._connection = Connection.open(self.host or None, announce=print)
            except NbdockError as error:
                raise UsageError(error.message) from None
            if self.show_api:
                self._connection.observe(_print_api_call)
        return self._connection

    @observe("host")
    def _host_changed(self, change) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    @observe("show_api")
    def _show_api_changed(self, change) -> None:
        if self._connection is not None:
            if change["new"]:
                self._connection.observe(_print_api_call)
            else:
                self._connection.unobserve(_print_api_call)

    # -- %dock ------------------------------------------------------------------

    @line_magic("dock")
    def dock(self, line: str):
        """Run a docker command (``%dock ps -a``) or one of nbdock's views (``%dock layers busybox``)."""
        try:
            words = shlex.split(line)
        except ValueError as error:
            raise UsageError(f"%dock: {error}") from None
        if not words:
            raise UsageError("%dock needs a command: %dock run, ps, images, build, layers, stats, ns, cgroup, trace...")
        try:
            parsed = parse_words(words, PROGRAM)
        except flags.FlagError as error:
            raise UsageError(error.message) from None
        if parsed.options["help"]:  # no daemon needed
            print(parsed.command.help_text(PROGRAM), end="")
            return None
        view = self.VIEWS.get(parsed.command.name)
        if view is not None:
            return self._guarded(lambda: view(self, parsed))
        console = NotebookConsole()
        code = self._guarded(lambda: run_parsed(parsed, Session(self.connection, console, PROGRAM)))
        if code:
            if parsed.command.name in CONTAINER_EXIT_COMMANDS:
                print(f"[exit code {code}]")
            else:
                raise UsageError(f"{PROGRAM} {parsed.command.name} failed (exit code {code}): see the errors above")
        return console.frame

    def _guarded(self, action):
        """Run ``action``; a failure of ours becomes a one-line UsageError (never swallowed): client/errors.py's words."""
        try:
            return action()
        except client_errors() as error:
            raise UsageError(translate(error, self.connection.host).message) from None

    # -- nbdock's views (the VIEWS table below says which command shows which) ----

    def _view_api(self, parsed):
        setting = parsed.args[0].lower()
        if setting not in ("on", "off"):
            raise UsageError("%dock api takes on or off")
        self.show_api = setting == "on"
        print(f"API requests will {'now' if self.show_api else 'no longer'} be shown")

    def _view_layers(self, parsed):
        return self._layers_view(parsed.args[0])

    def _layers_view(self, image: str):
        from nbdock.views.layers import LayersView

        layers = self.connection.image_layers(image)
        return LayersView(image, layers, lambda diff_id, path: self.connection.layer_file(image, diff_id, path))

    def _view_ns(self, parsed):
        return data.namespaces_frame(self.connection, parsed.args[0])

    def _view_cgroup(self, parsed):
        frame = data.cgroup_frame(self.connection, parsed.args[0])
        display(HTML(f"cgroup v{frame.attrs['version']}: the files in <code>{html.escape(frame.attrs['directory'])}</code>"))
        return frame

    def _view_trace(self, parsed):
        return data.trace_frame(self.connection, parsed.args[0])

    def _view_net_map(self, parsed):
        """The cluster drawn (hosts, VXLAN tunnels, containers), then the table it is drawn from."""
        from nbdock.views.netmap import draw, network_map_frame

        frame = network_map_frame(self.connection)
        display(draw(frame))
        return frame

    def _view_attach(self, parsed):
        from nbdock.views.attach import AttachView

        return AttachView(self.connection.api, parsed.args[0])

    def _view_stats(self, parsed):
        """Sampling into a DataFrame; ``--plot`` draws it live (``--plot memory|cpu``: that panel only) and marks
        an OOM kill; ``--no-stream`` keeps docker's one table."""
        if parsed.no_stream:
            console = NotebookConsole()
            run_parsed(parsed, Session(self.connection, console, PROGRAM))
            return console.frame
        if not parsed.args:
            raise UsageError(f"%dock stats samples one container: %dock {STATS_USAGE}")
        container, *panels = parsed.args  # `--plot memory`: a bool flag takes no value, so the panel comes as a word
        if len(panels) > (1 if parsed.plot else 0):
            raise UsageError(f"%dock stats samples one container: %dock {STATS_USAGE}")
        seconds, interval = _positive(parsed.seconds, 10.0, "--seconds"), _positive(parsed.interval, 1.0, "--interval")
        if parsed.plot:
            from nbdock.views.stats_plot import METRICS, watch

            if panels and panels[0] not in METRICS:
                raise UsageError(f"%dock stats --plot draws {' or '.join(METRICS)}, not {panels[0]!r}: %dock {STATS_USAGE}")
            return watch(self.connection, container, seconds, interval, metrics=panels or None)
        # One connection streaming readings at the interval (nbdock's own endpoint): a request per
        # reading would cost more CPU than the container being watched.
        readings = self.connection.container_stats_stream(container, interval)
        return stats_math.sample(readings, seconds, _SamplingProgress(container, seconds).update)

    #: The commands %dock shows itself (a widget, a frame, a chart) instead of running them as docker does.
    VIEWS: ClassVar[dict[str, Callable[[NbdockMagics, Parsed], object]]] = {
        "api": _view_api, "layers": _view_layers, "ns": _view_ns, "cgroup": _view_cgroup, "trace": _view_trace,
        "net map": _view_net_map, "attach": _view_attach, "stats": _view_stats,
    }

    # -- %%compose and %compose --------------------------------------------------

    @line_cell_magic("compose")
    def compose(self, line: str, cell: str | None = None):
        """``%%compose [PROJECT] [COMMAND ARGS]``: the cell is the compose file (default command ``up -d``);
        ``%compose [PROJECT] COMMAND ARGS`` runs a command on a project written before;
        ``%compose graph [PROJECT]`` draws the running application."""
        try:
            words = shlex.split(line)
        except ValueError as error:
            raise UsageError(f"%compose: {error}") from None
        if words[:1] == ["graph"]:
            if len(words) > 2:
                raise UsageError("%compose graph takes at most one project name")
            return self._guarded(lambda: self._compose_graph(self._compose_project_name(words[1:2])))
        named = words[:1] if words and words[0] not in compose_tool.COMMANDS else []
        project_name, args = self._compose_project_name(named, writing=cell is not None), words[len(named):]
        if cell is not None:
            project = self._guarded(lambda: compose_tool.write_project(project_name, cell))
            self._compose_project = project_name
            args = args or ["up", "-d"]
        else:
            if not args:
                raise UsageError("%compose needs a command: %compose [PROJECT] up|down|ps|logs|exec|... "
                                 "(the compose file comes from a %%compose cell)")
            project = self._guarded(lambda: compose_tool.existing_project(project_name))
        # Compose's output, line by line, as it comes (a `logs -f` runs until interrupted).
        self._guarded(lambda: compose_tool.run(project, args, self.connection.host, output=print))
        return None

    def _compose_project_name(self, named: list[str], writing: bool = False) -> str:
        if named:
            return named[0]
        if self._compose_project is None:
            if writing:
                return "app"
            raise UsageError("which compose project? Name it (%compose PROJECT ...) or write one with a %%compose cell")
        return self._compose_project

    def _compose_graph(self, project_name: str):
        """The figure of the project's services, containers, networks, volumes and ports."""
        import yaml

        from nbdock.views.compose_graph import draw, gather

        config = None
        try:
            project = compose_tool.existing_project(project_name)
        except CommandError:
            project = None  # started elsewhere: the picture comes from the daemon alone (no depends_on)
        if project is not None:
            config = yaml.safe_load(compose_tool.config(project, self.connection.host))
        model = gather(self.connection, project_name, config)
        if not any(model.services.values()):
            print(f"no container of compose project {project_name!r} on {self.connection.host}")
        return draw(model)

    # -- %%dockerfile -------------------------------------------------------------

    @cell_magic("dockerfile")
    def dockerfile(self, line: str, cell: str):
        """Build the cell as a Dockerfile; show the steps live, then one line: the image, its layers, how to see them.

        The context is ``--context DIR``, or (without it) only what the cell's COPY/ADD name, gathered
        from the notebook's folder by :mod:`nbdock.client.cell_context`: a lesson's build does not send
        the whole folder of notebooks.  The layer tree is one command away (``%dock layers TAG``), not
        drawn after every build: a lesson that builds four times would show it four times.
        """
        try:
            parsed = parse(DOCKERFILE_SYNTAX, shlex.split(line), "%%dockerfile")
        except (flags.FlagError, ValueError) as error:
            raise UsageError(getattr(error, "message", str(error))) from None
        if parsed.options["help"]:
            print(DOCKERFILE_SYNTAX.help_text("%%").replace("%% dockerfile", "%%dockerfile", 1))  # a cell magic's name
            return None
        if not cell.strip():
            raise UsageError("%%dockerfile: the cell is empty; write the Dockerfile in it")
        tag = parsed.args[0]
        console = NotebookConsole()
        session = Session(self.connection, console, "%%dockerfile")
        build_args = dict(parse_build_arg(arg) for arg in parsed.build_arg)

        def build(context: str) -> str:
            try:
                return build_image(session, context, tags=[tag], dockerfile_text=cell, build_args=build_args,
                                   no_cache=parsed.no_cache, rm=parsed.rm)
            except CommandError as error:
                step = f"{console.last_step} failed: " if console.last_step else ""
                raise CommandError(f"build of {tag} failed: {step}{error.message} (exit code {error.exit_code})",
                                   error.exit_code) from None

        if parsed.context is not None:
            image_id = self._guarded(lambda: build(parsed.context))
        else:
            with cell_context.temporary_context() as context:
                self._guarded(lambda: cell_context.cell_context(cell, os.getcwd(), context))
                image_id = self._guarded(lambda: build(context))
        layers = self._guarded(lambda: self.connection.image_layers(tag))
        print(built_summary(tag, image_id, layers))
        return None


def built_summary(tag: str, image_id: str, layers: list[dict]) -> str:
    """``built app:1 (3f2a9c1d0e4b): 4 layers, 1 step with none; the tree: %dock layers app:1``."""
    stored = sum(1 for layer in layers if not layer.get("empty_layer"))
    empty = len(layers) - stored
    steps = f", {empty} step{'s' if empty != 1 else ''} with none" if empty else ""
    short_id = image_id.removeprefix("sha256:")[:12]
    return (f"built {tag} ({short_id}): {stored} layer{'s' if stored != 1 else ''}{steps}; "
            f"the tree: {PROGRAM} layers {tag}")


class _SamplingProgress:
    """One line, redrawn after each sample: how far the sampling has got."""

    def __init__(self, container: str, seconds: float):
        self.container, self.seconds = container, seconds
        self.handle = None

    def update(self, frame) -> None:
        line = _TextLine(f"sampling {self.container}: {len(frame)} samples, "
                         f"{frame['time'].iloc[-1]:.1f} of {self.seconds:g} s")
        if self.handle is None:
            self.handle = display(line, display_id=True)
        else:
            self.handle.update(line)


class _TextLine:
    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _positive(text: str | None, default: float, flag: str) -> float:
    try:
        value = float(text) if text is not None else default
    except ValueError:
        raise UsageError(f"{flag} takes a number of seconds, not {text!r}") from None
    if value <= 0:
        raise UsageError(f"{flag} must be more than 0")
    return value


def _print_api_call(call: ApiCall) -> None:
    print(f"→ {call}")


def load_ipython_extension(ipython) -> None:
    """``%load_ext nbdock``."""
    ipython.register_magics(NbdockMagics(ipython))
