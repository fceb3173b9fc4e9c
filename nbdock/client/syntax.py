"""Every command nbdock's clients understand, with docker's flags.

One table serves the ``nbdock`` CLI and the ``%dock`` magic, so both accept
exactly what ``docker`` accepts.  Management-command spellings
(``container ls``, ``image rm``...) are mapped onto the classic names by
:func:`find_command`.
"""

from __future__ import annotations

from .flags import Command, Flag, FlagError


def _bool(long: str, short: str = "", help: str = "", default: bool = False) -> Flag:
    return Flag(long, short, "bool", help, default)


def _value(long: str, short: str = "", help: str = "", default: str | None = None, metavar: str = "string") -> Flag:
    return Flag(long, short, "value", help, default, metavar)


def _list(long: str, short: str = "", help: str = "", metavar: str = "list") -> Flag:
    return Flag(long, short, "list", help, None, metavar)


FORMAT = _value("format", help="Format output using a Go template ({{.Field}}, {{json .Field}}, table ...)")
FORMAT_F = _value("format", "f", "Format output using a Go template")
QUIET = _bool("quiet", "q", "Only display IDs")
NO_TRUNC = _bool("no-trunc", help="Don't truncate output")
FILTER = _list("filter", "f", "Filter output based on conditions provided", "filter")
FORCE = _bool("force", "f", "Do not prompt for confirmation")

# The flags `run` and `create` share: they describe the container.
CONTAINER_FLAGS = (
    _bool("interactive", "i", "Keep STDIN open even if not attached"),
    _bool("tty", "t", "Allocate a pseudo-TTY"),
    _bool("rm", help="Automatically remove the container when it exits"),
    _value("name", help="Assign a name to the container"),
    _list("env", "e", "Set environment variables"),
    _list("env-file", help="Read in a file of environment variables"),
    _value("workdir", "w", "Working directory inside the container"),
    _value("user", "u", "Username or UID (format: <name|uid>[:<group|gid>])"),
    _list("publish", "p", "Publish a container's port(s) to the host"),
    _bool("publish-all", "P", "Publish all exposed ports to random ports"),
    _list("expose", help="Expose a port or a range of ports"),
    _list("volume", "v", "Bind mount a volume"),
    _list("volumes-from", help="Mount volumes from the specified container(s)"),
    _list("mount", help="Attach a filesystem mount to the container", metavar="mount"),
    _list("tmpfs", help="Mount a tmpfs directory"),
    _bool("read-only", help="Mount the container's root filesystem as read only"),
    _value("memory", "m", "Memory limit", metavar="bytes"),
    _value("memory-swap", help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap", metavar="bytes"),
    _value("cpus", help="Number of CPUs", metavar="decimal"),
    _value("cpu-shares", "c", "CPU shares (relative weight)", metavar="int"),
    _value("pids-limit", help="Tune container pids limit (set -1 for unlimited)", metavar="int"),
    _value("hostname", "h", "Container host name"),
    _value("entrypoint", help="Overwrite the default ENTRYPOINT of the image"),
    _value("network", help="Connect a container to a network", metavar="network"),
    _value("net", help="Connect a container to a network (same as --network)", metavar="network"),
    _list("network-alias", help="Add network-scoped alias for the container"),
    _value("restart", help="Restart policy to apply when a container exits", default="no"),
    _list("label", "l", "Set meta data on a container"),
    _list("cap-add", help="Add Linux capabilities"),
    _list("cap-drop", help="Drop Linux capabilities"),
    _list("security-opt", help="Security Options"),
    _value("stop-signal", help="Signal to stop the container"),
    _value("stop-timeout", help="Timeout (in seconds) to stop a container", metavar="int"),
    _bool("init", help="Run an init inside the container that forwards signals and reaps processes"),
    _value("health-cmd", help="Command to run to check health"),
    _value("health-interval", help="Time between running the check (ms|s|m|h) (default 0s)", metavar="duration"),
    _value("health-retries", help="Consecutive failures needed to report unhealthy", metavar="int"),
    _value("health-start-period", help="Start period for the container to initialize before starting health-retries "
           "countdown (ms|s|m|h) (default 0s)", metavar="duration"),
    _value("health-timeout", help="Maximum time to allow one check to run (ms|s|m|h) (default 0s)", metavar="duration"),
    _bool("no-healthcheck", help="Disable any container-specified HEALTHCHECK"),
    _value("userns", help="User namespace to use (nbdock: host, or the daemon's default)"),
)

#: docker's `run`/`create` flags that nbdock refuses, as its daemon refuses their fields
#: (engine/createconfig.py's UNSUPPORTED_HOST_CONFIG): a container quietly without its
#: device or its cgroup would teach the wrong thing.
REFUSED_CONTAINER_FLAGS = (
    ("device", "its containers get the default /dev only (HostConfig.Devices)"),
    ("gpus", "it has no GPU support (HostConfig.DeviceRequests)"),
    ("cgroup-parent", "each container's cgroup is made under nbdock's own (HostConfig.CgroupParent)"),
    ("blkio-weight-device", "per-device weights need the BFQ scheduler (HostConfig.BlkioWeightDevice)"),
    ("storage-opt", "a writable layer's size needs overlay over xfs with project quotas (HostConfig.StorageOpt)"),
)

_COMMANDS = [
    # -- containers --------------------------------------------------------
    Command(
        "run", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container from an image",
        CONTAINER_FLAGS + (
            _bool("detach", "d", "Run container in background and print container ID"),
            _bool("sig-proxy", help="Proxy received signals to the process", default=True),
        ),
        min_args=1, interspersed=False, refused=REFUSED_CONTAINER_FLAGS,
    ),
    Command("create", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container", CONTAINER_FLAGS,
            min_args=1, interspersed=False, refused=REFUSED_CONTAINER_FLAGS),
    Command("start", "[OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers", (
        _bool("attach", "a", "Attach STDOUT/STDERR and forward signals"),
        _bool("interactive", "i", "Attach container's STDIN"),
    ), min_args=1),
    Command("attach", "[OPTIONS] CONTAINER", "Attach local standard input, output, and error streams to a running container", (
        _bool("no-stdin", help="Do not attach STDIN"),
        _bool("sig-proxy", help="Proxy all received signals to the process", default=True),
    ), min_args=1, max_args=1),
    Command("exec", "[OPTIONS] CONTAINER COMMAND [ARG...]", "Execute a command in a running container", (
        _bool("detach", "d", "Detached mode: run command in the background"),
        _bool("interactive", "i", "Keep STDIN open even if not attached"),
        _bool("tty", "t", "Allocate a pseudo-TTY"),
        _list("env", "e", "Set environment variables"),
        _list("env-file", help="Read in a file of environment variables"),
        _value("user", "u", "Username or UID (format: <name|uid>[:<group|gid>])"),
        _value("workdir", "w", "Working directory inside the container"),
        _bool("privileged", help="Give extended privileges to the command"),
    ), min_args=2, interspersed=False),
    Command("logs", "[OPTIONS] CONTAINER", "Fetch the logs of a container", (
        _bool("follow", "f", "Follow log output"),
        _value("tail", "n", "Number of lines to show from the end of the logs", default="all"),
        _bool("timestamps", "t", "Show timestamps"),
        _value("since", help="Show logs since timestamp or relative (e.g. 42m)"),
        _value("until", help="Show logs before a timestamp or relative (e.g. 42m)"),
        _bool("details", help="Show extra details provided to logs"),
    ), min_args=1, max_args=1),
    Command("ps", "[OPTIONS]", "List containers", (
        _bool("all", "a", "Show all containers (default shows just running)"),
        QUIET, NO_TRUNC, FILTER, FORMAT,
        _bool("size", "s", "Display total file sizes"),
        _value("last", "n", "Show n last created containers (includes all states)", metavar="int"),
        _bool("latest", "l", "Show the latest created container (includes all states)"),
    ), max_args=0),
    Command("rm", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", (
        _bool("force", "f", "Force the removal of a running container (uses SIGKILL)"),
        _bool("volumes", "v", "Remove anonymous volumes associated with the container"),
        _bool("link", "l", "Remove the specified link"),
    ), min_args=1),
    Command("stop", "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers", (
        _value("time", "t", "Seconds to wait before killing the container", metavar="int"),
        _value("signal", "s", "Signal to send to the container"),
    ), min_args=1),
    Command("kill", "[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers", (
        _value("signal", "s", "Signal to send to the container"),
    ), min_args=1),
    Command("restart", "[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers", (
        _value("time", "t", "Seconds to wait before killing the container", metavar="int"),
        _value("signal", "s", "Signal to send to the container"),
    ), min_args=1),
    Command("pause", "CONTAINER [CONTAINER...]", "Pause all processes within one or more containers", min_args=1),
    Command("unpause", "CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers", min_args=1),
    Command("wait", "CONTAINER [CONTAINER...]", "Block until one or more containers stop, then print their exit codes",
            min_args=1),
    Command("inspect", "[OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on Docker objects", (
        FORMAT_F,
        _bool("size", "s", "Display total file sizes if the type is container"),
        _value("type", help="Only inspect objects of the given type"),
    ), min_args=1),
    Command("rename", "CONTAINER NEW_NAME", "Rename a container", min_args=2, max_args=2),
    Command("port", "CONTAINER [PRIVATE_PORT[/PROTO]]", "List port mappings or a specific mapping for the container",
            min_args=1, max_args=2),
    Command("top", "CONTAINER [ps OPTIONS]", "Display the running processes of a container",
            min_args=1, interspersed=False),
    Command("stats", "[OPTIONS] [CONTAINER...]", "Display a live stream of container(s) resource usage statistics", (
        _bool("all", "a", "Show all containers (default shows just running)"),
        _bool("no-stream", help="Disable streaming stats and only pull the first result"),
        NO_TRUNC, FORMAT,
        _value("seconds", help="nbdock: sample for this many seconds into a table", metavar="float"),
        _value("interval", help="nbdock: seconds between samples (default 1)", metavar="float"),
        _bool("plot", help="nbdock: draw the samples live, with any OOM kill (notebooks; --plot memory|cpu: one panel)"),
    )),
    Command("cp", "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdocker cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
            "Copy files/folders between a container and the local filesystem", (
        _bool("archive", "a", "Archive mode (copy all uid/gid information)"),
        _bool("follow-link", "L", "Always follow symbol link in SRC_PATH"),
        _bool("quiet", "q", "Suppress progress output during copy"),
    ), min_args=2, max_args=2),
    Command("diff", "CONTAINER", "Inspect changes to files or directories on a container's filesystem",
            min_args=1, max_args=1),
    Command("commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]", "Create a new image from a container's changes", (
        _value("author", "a", 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")'),
        _list("change", "c", "Apply Dockerfile instruction to the created image"),
        _value("message", "m", "Commit message"),
        _bool("pause", "p", "Pause container during commit", default=True),
    ), min_args=1, max_args=2),
    Command("export", "[OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive", (
        _value("output", "o", "Write to a file, instead of STDOUT"),
    ), min_args=1, max_args=1),
    # -- images ------------------------------------------------------------
    Command("history", "[OPTIONS] IMAGE", "Show the history of an image", (
        _bool("human", "H", "Print sizes and dates in human readable format", default=True),
        NO_TRUNC, QUIET, FORMAT,
    ), min_args=1, max_args=1),
    Command("images", "[OPTIONS] [REPOSITORY[:TAG]]", "List images", (
        _bool("all", "a", "Show all images (default hides intermediate images)"),
        QUIET, NO_TRUNC, FILTER, FORMAT,
        _bool("digests", help="Show digests"),
    ), max_args=1),
    Command("rmi", "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", (
        _bool("force", "f", "Force removal of the image"),
        _bool("no-prune", help="Do not delete untagged parents"),
    ), min_args=1),
    Command("tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
            min_args=2, max_args=2),
    Command("pull", "[OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", (
        _bool("all-tags", "a", "Download all tagged images in the repository"),
        _bool("quiet", "q", "Suppress verbose output"),
        _value("platform", help="Set platform if server is multi-platform capable"),
    ), min_args=1, max_args=1),
    Command("push", "[OPTIONS] NAME[:TAG]", "Upload an image to a registry", (
        _bool("all-tags", "a", "Push all tags of an image to the repository"),
        _bool("quiet", "q", "Suppress verbose output"),
    ), min_args=1, max_args=1),
    Command("login", "[OPTIONS] [SERVER]", "Authenticate to a registry", (
        _value("username", "u", "Username"),
        _value("password", "p", "Password"),
        _bool("password-stdin", help="Take the password from stdin"),
    ), max_args=1),
    Command("logout", "[SERVER]", "Log out from a registry", max_args=1),
    Command("save", "[OPTIONS] IMAGE [IMAGE...]", "Save one or more images to a tar archive (streamed to STDOUT by default)", (
        _value("output", "o", "Write to a file, instead of STDOUT"),
    ), min_args=1),
    Command("load", "[OPTIONS]", "Load an image from a tar archive or STDIN", (
        _value("input", "i", "Read from tar archive file, instead of STDIN"),
        _bool("quiet", "q", "Suppress the load output"),
    ), max_args=0),
    Command("import", "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]", "Import the contents from a tarball to create a filesystem image", (
        _list("change", "c", "Apply Dockerfile instruction to the created image"),
        _value("message", "m", "Set commit message for imported image"),
        _value("platform", help="Set platform if server is multi-platform capable"),
    ), min_args=1, max_args=2),
    Command("build", "[OPTIONS] PATH | URL | -", "Build an image from a Dockerfile", (
        _list("tag", "t", 'Name and optionally a tag in the "name:tag" format'),
        _value("file", "f", "Name of the Dockerfile (Default is PATH/Dockerfile)"),
        _list("build-arg", help="Set build-time variables"),
        _bool("no-cache", help="Do not use cache when building the image"),
        _bool("rm", help="Remove intermediate containers after a successful build", default=True),
        _bool("force-rm", help="Always remove intermediate containers"),
        _bool("quiet", "q", "Suppress the build output and print image ID on success"),
        _bool("pull", help="Always attempt to pull a newer version of the image"),
        _list("label", help="Set metadata for an image"),
        _value("target", help="Set the target build stage to build"),
        _value("network", help="Set the networking mode for the RUN instructions during build"),
        _value("iidfile", help="Write the image ID to the file"),
    ), min_args=1, max_args=1),
    Command("image prune", "[OPTIONS]", "Remove unused images", (
        _bool("all", "a", "Remove all unused images, not just dangling ones"),
        FORCE, _list("filter", help="Provide filter values (e.g. \"until=<timestamp>\")", metavar="filter"),
    ), max_args=0),
    # -- volumes -----------------------------------------------------------
    Command("volume create", "[OPTIONS] [VOLUME]", "Create a volume", (
        _value("driver", "d", "Specify volume driver name", default="local"),
        _list("opt", "o", "Set driver specific options", metavar="map"),
        _list("label", help="Set metadata for a volume"),
        _value("name", help="Specify volume name"),
    ), max_args=1),
    Command("volume ls", "[OPTIONS]", "List volumes", (QUIET, FORMAT, FILTER), max_args=0),
    Command("volume inspect", "[OPTIONS] VOLUME [VOLUME...]", "Display detailed information on one or more volumes",
            (FORMAT_F,), min_args=1),
    Command("volume rm", "[OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes", (
        _bool("force", "f", "Force the removal of one or more volumes"),
    ), min_args=1),
    Command("volume prune", "[OPTIONS]", "Remove unused local volumes", (
        _bool("all", "a", "Remove all unused volumes, not just anonymous ones"),
        FORCE, _list("filter", help="Provide filter values (e.g. \"label=<label>\")", metavar="filter"),
    ), max_args=0),
    # -- networks ----------------------------------------------------------
    Command("network create", "[OPTIONS] NETWORK", "Create a network", (
        _value("driver", "d", "Driver to manage the Network", default="bridge"),
        _list("subnet", help="Subnet in CIDR format that represents a network segment", metavar="strings"),
        _list("gateway", help="IPv4 or IPv6 Gateway for the master subnet", metavar="strings"),
        _list("ip-range", help="Allocate container ip from a sub-range", metavar="strings"),
        _list("aux-address", help="Auxiliary IPv4 or IPv6 addresses used by Network driver", metavar="map"),
        _bool("internal", help="Restrict external access to the network"),
        _bool("ipv6", help="Enable IPv6 networking"),
        _bool("attachable", help="Enable manual container attachment"),
        _list("label", help="Set metadata on a network"),
        _list("opt", "o", "Set driver specific options", metavar="map"),
    ), min_args=1, max_args=1),
    Command("network ls", "[OPTIONS]", "List networks", (QUIET, NO_TRUNC, FORMAT, FILTER), max_args=0),
    Command("network inspect", "[OPTIONS] NETWORK [NETWORK...]", "Display detailed information on one or more networks",
            (FORMAT_F,), min_args=1),
    Command("network rm", "NETWORK [NETWORK...]", "Remove one or more networks", (
        _bool("force", "f", "Do not error if the network does not exist"),
    ), min_args=1),
    Command("network connect", "[OPTIONS] NETWORK CONTAINER", "Connect a container to a network", (
        _list("alias", help="Add network-scoped alias for the container", metavar="strings"),
        _value("ip", help="IPv4 address (e.g., \"172.30.100.104\")"),
        _value("ip6", help="IPv6 address (e.g., \"2001:db8::33\")"),
    ), min_args=2, max_args=2),
    Command("network disconnect", "[OPTIONS] NETWORK CONTAINER", "Disconnect a container from a network", (
        _bool("force", "f", "Force the container to disconnect from a network"),
    ), min_args=2, max_args=2),
    # -- system ------------------------------------------------------------
    Command("system df", "[OPTIONS]", "Show docker disk usage", (FORMAT,), max_args=0),
    Command("events", "[OPTIONS]", "Get real time events from the server", (
        _value("since", help="Show all events created since timestamp"),
        _value("until", help="Stream events until this timestamp"),
        FILTER, FORMAT,
    ), max_args=0),
    Command("version", "[OPTIONS]", "Show the Docker version information", (FORMAT_F,), max_args=0),
    Command("info", "[OPTIONS]", "Display system-wide information", (FORMAT_F,), max_args=0),
    # -- nbdock's own views: what the kernel did ----------------------------
    Command("layers", "IMAGE", "nbdock: an image's layers and the files each one adds, changes and deletes",
            min_args=1, max_args=1),
    Command("ns", "CONTAINER", "nbdock: the container's namespaces, compared with the host's", min_args=1, max_args=1),
    Command("cgroup", "CONTAINER", "nbdock: the cgroup files that limit the container", min_args=1, max_args=1),
    Command("trace", "CONTAINER", "nbdock: the kernel operations performed for the container, in order",
            min_args=1, max_args=1),
    Command("api", "on|off", "nbdock: show each HTTP request the client sends", min_args=1, max_args=1),
    Command("net map", "", "nbdock: the cluster's hosts, their VXLAN devices and the containers of each overlay network",
            max_args=0),
]

COMMANDS: dict[str, Command] = {command.name: command for command in _COMMANDS}

#: Management-command spellings (``docker container ls``) and their classic names.
ALIASES = {
    "container ls": "ps", "container list": "ps", "container rm": "rm", "container remove": "rm",
    "image ls": "images", "image list": "images", "image rm": "rmi", "image remove": "rmi",
    "image build": "build", "image pull": "pull", "image push": "push", "image tag": "tag",
    "image history": "history", "image inspect": "inspect", "image save": "save", "image load": "load",
    "image import": "import", "volume list": "volume ls", "volume remove": "volume rm",
    "network list": "network ls", "network remove": "network rm", "system info": "info",
    "system events": "events",
}
_CONTAINER_VERBS = {
    "run", "create", "start", "attach", "exec", "logs", "rm", "stop", "kill", "restart", "pause", "unpause",
    "wait", "inspect", "rename", "port", "top", "stats", "cp", "diff", "commit", "export",
}
#: The first words that are groups rather than commands.
GROUPS = ("container", "image", "volume", "network", "system", "net")  # net: nbdock's `net map`


def find_command(words: list[str]) -> tuple[Command, list[str]]:
    """Which command the words name, and the words left for its flags and arguments."""
    if not words:
        raise FlagError("no command given (try `help`)")
    first = words[0]
    if first in GROUPS:
        if len(words) < 2 or words[1].startswith("-"):
            verbs = sorted({name.split()[1] for name in [*COMMANDS, *ALIASES] if name.startswith(first + " ")})
            if first == "container":
                verbs = sorted(_CONTAINER_VERBS | {"ls", "rm"})
            raise FlagError(f'"{first}" needs a subcommand: one of {", ".join(verbs)}')
        two = f"{first} {words[1]}"
        name = ALIASES.get(two, two)
        if first == "container" and words[1] in _CONTAINER_VERBS:
            name = words[1]
        if name not in COMMANDS:
            raise FlagError(f'unknown command: "{two}"')
        return COMMANDS[name], words[2:]
    if first not in COMMANDS:
        raise FlagError(f'unknown command: "{first}"')
    return COMMANDS[first], words[1:]
