"""The Dockerfile builder: Docker's classic builder, one image per instruction.

``docker build`` (with ``DOCKER_BUILDKIT=0``) sends the daemon a context and
a Dockerfile; the daemon runs the Dockerfile top to bottom, and every
instruction produces a new image whose *parent* is the image before it:

* ``RUN`` runs its command in an *intermediate container* -- a real one,
  created from the current image and started on the runtime like any
  other -- and commits the container's changes as a layer;
* ``COPY`` and ``ADD`` write the files into a new layer directly (see
  :mod:`nbdock.builder.copy`);
* ``WORKDIR`` creates its directory in an intermediate container's layer;
* every other instruction only changes the config.  Docker still creates
  (but never starts) a container for it and commits it: the image gets a
  history entry ``/bin/sh -c #(nop)  ENV A=1`` and no layer.

(One difference: in a ``FROM scratch`` stage, the steps before the first
layer have no image to create a container from, so nbdock commits them
without one, where Docker creates a container from nothing.)

Before it does a step, the builder looks for an image an identical step
made from the same parent (:mod:`nbdock.builder.cache`) and reuses it.

The output is Docker's, line for line (``Step 2/5 : RUN make``, `` --->
Running in 4f2a...``, `` ---> Using cache``...), sent as JSON messages
through a :class:`BuildOutput`; the daemon streams them to the client
(nbdock/daemon/routes_build.py).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import copy
import dataclasses
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import BuildError, InvalidArgument, NbdockError, NotFound
from ..image import reference
from ..image.archive import DOCKER_VERSION, host_architecture
from ..image.store import EMPTY_LAYER_DIFF_ID, format_time, full_container_config
from ..registry import AuthConfig
from ..registry.progress import progress_bar
from ..runtime.spec import DEFAULT_PATH
from .cache import cache_sources, find_cached_step
from .context import REMOTE_SIZE_LIMIT, BuildContext
from .copy import ROOT, LayerPlan, normalize_dest, write_copy
from .instructions import DEFAULT_SHELL, DEFAULT_ESCAPE, Add, Copy, Instruction, Label, Run, Workdir
from .parser import Stage, parse_onbuild_trigger
from .rootview import RootView
from .sources import CopySource, SourceTree, combined_checksum, download, is_url
from .variables import BuildArgs

if TYPE_CHECKING:
    from .backend import BuildBackend

BUILDKIT_ONLY = ("the --{} option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ "
                 "to learn how to build images with BuildKit enabled")


class BuildOutput(Protocol):
    """Where the build's messages go: ``{"stream": text}``, ``{"aux": {...}}``, pull and download progress."""

    async def send(self, message: dict[str, Any]) -> None: ...


@dataclass
class BuildOptions:
    """What ``POST /build`` asks for besides the context (its query parameters)."""

    tags: list[str] = field(default_factory=list)  # checked references, "name:tag"
    build_args: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    cache_from: list[str] | None = None  # --cache-from: the only images the cache may come from
    remove: bool = True  # remove intermediate containers after each successful step
    force_remove: bool = False  # ... and after a failed one too
    pull: bool = False  # pull FROM images even when they are here
    host_config: dict[str, Any] = field(default_factory=dict)  # for RUN's containers: network mode, memory...
    registry_auth: dict[str, AuthConfig] = field(default_factory=dict)  # registry host -> credentials


@dataclass
class _Stage:
    """The state of the build stage being run (Docker's dispatchState)."""

    name: str
    image_id: str  # the image so far ("" while a FROM scratch stage has no step yet)
    config: dict[str, Any]  # the config the next image gets (Docker's runConfig)
    args: BuildArgs
    maintainer: str = ""
    cmd_set: bool = False  # a CMD of this stage was given: a later ENTRYPOINT keeps it
    cache_busted: bool = False  # a step missed the cache: later steps do not look any more


@dataclass
class _FinishedStage:
    name: str
    image_id: str


class _OptionLabel(Label):
    """A ``--label`` of the build, run as a LABEL step at the end; its value is not expanded."""

    def expanded(self, env, escape=DEFAULT_ESCAPE):
        return self


def short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


class Builder:
    """One build of one context."""

    def __init__(self, backend: "BuildBackend", context: BuildContext, options: BuildOptions, output: BuildOutput):
        self.backend = backend  # the containers, pulls and tags of an engine (backend.py)
        self.store = backend.image_store
        self.context = context
        self.options = options
        self.output = output
        self.escape = context.dockerfile.escape
        self.context_tree = SourceTree(RootView([context.root]), is_context=True, headers_from_client_tar=True)
        self.finished: list[_FinishedStage] = []
        self.intermediate_containers: list[str] = []  # of the step being run
        self.step, self.total_steps = 0, 0  # for "Step 3/7"
        self._cache_sources: set[str] | None = None  # with --cache-from: the images the cache may give

    # ------------------------------------------------------------------
    # The whole build

    async def build(self) -> str:
        """Run every stage; tag the result; return its image ID.  Raises NbdockError when a step fails."""
        parsed = self.context.dockerfile
        stages = parsed.stages_up_to(self.options.target) if self.options.target else parsed.stages
        commands = [list(stage.commands) for stage in stages]
        if commands:  # --label options become LABEL steps at the end of the last stage
            commands[-1] += [_OptionLabel("LABEL", f"LABEL {key}={value}", 0, 0, [(key, value)])
                             for key, value in sorted(self.options.labels.items())]
        self.total_steps = len(parsed.meta_args) + sum(1 + len(stage_commands) for stage_commands in commands)
        if parsed.warnings:
            await self._stderr("\n".join(parsed.warnings) + "\n")

        build_args = BuildArgs(self.options.build_args)
        for meta_arg in parsed.meta_args:  # ARGs before the first FROM: for FROM lines only
            await self._step_line(meta_arg)
            for name, value in meta_arg.expanded(build_args.allowed_values(), self.escape).args:
                build_args.add_meta_arg(name, value)
        image_id = ""
        for stage, stage_commands in zip(stages, commands):
            image_id = await self._run_stage(stage, stage_commands, build_args)
        if warning := build_args.unused_warning():
            await self._stdout(warning)
        if not image_id:
            raise InvalidArgument("No image was generated. Is your Dockerfile empty?")

        await self._stdout(f"Successfully built {short_id(image_id)}\n")
        for tag in self.options.tags:
            await asyncio.to_thread(self.backend.tag, image_id, tag)
            await self._stdout(f"Successfully tagged {reference.familiar(tag)}\n")
        return image_id

    async def _run_stage(self, stage: Stage, commands: list[Instruction],
                         build_args: BuildArgs) -> str:
        """FROM and the instructions after it; returns the stage's image ID."""
        if stage.name and any(done.name == stage.name for done in self.finished):
            raise InvalidArgument(f"{stage.name} stage name already used")
        await self._step_line(stage.from_instruction)
        state = await self._begin_stage(stage, build_args)
        await self._stdout(f" ---> {short_id(state.image_id)}\n")
        for instruction in commands:
            await self._step_line(instruction)
            await self._dispatch(state, instruction)
            await self._stdout(f" ---> {short_id(state.image_id)}\n")
        if state.image_id:
            await self.output.send({"aux": {"ID": state.image_id}})  # what `docker build --iidfile` reads
        build_args.merge_referenced(state.args)
        self.finished.append(_FinishedStage(state.name, state.image_id))
        return state.image_id

    async def _step_line(self, instruction: Instruction) -> None:
        self.step += 1
        # Docker writes the step and its newline separately, and so two messages.
        await self._stdout(f"Step {self.step}/{self.total_steps} : {instruction}")
        await self._stdout("\n")

    # ------------------------------------------------------------------
    # FROM

    async def _begin_stage(self, stage: Stage, build_args: BuildArgs) -> _Stage:
        """Start a stage from its base image: its config, a default PATH, then its ONBUILD triggers."""
        base_name = stage.from_instruction.expanded(build_args.meta_values(), self.escape).base_name
        image_id = await self._base_image_id(base_name)
        image_config = await asyncio.to_thread(self.store.config, image_id) if image_id else {}
        config = copy.deepcopy(image_config.get("config") or {})
        env = list(config.get("Env") or [])
        if not any(item.partition("=")[0] == "PATH" for item in env):
            env.append("PATH=" + DEFAULT_PATH)  # the container would get it anyway; Docker writes it down
        config.update(Env=env, OpenStdin=False, StdinOnce=False, Image=image_id)
        state = _Stage(stage.name, image_id, config, build_args.for_new_stage())
        triggers = config.get("OnBuild") or []
        if triggers:
            config["OnBuild"] = None  # triggers run in this build only; they are not inherited further
            await self._stdout(f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n")
            for trigger in triggers:
                state.config["Image"] = state.image_id
                await self._dispatch(state, parse_onbuild_trigger(trigger))
        state.config["Image"] = state.image_id
        return state

    async def _base_image_id(self, name: str) -> str:
        """A previous stage's image, nothing for ``scratch``, or an image -- pulled if it is not here."""
        for done in self.finished:
            if done.name and done.name == name.lower():
                return done.image_id
        if name == "scratch":
            return ""
        return await self._image_id(name)

    async def _image_id(self, name: str) -> str:
        if not self.options.pull:
            with contextlib.suppress(NotFound):
                return (await asyncio.to_thread(self.store.get, name)).id
        async for message in self.backend.pull(name, self._auth_for(name)):
            await self.output.send(message)
        return (await asyncio.to_thread(self.store.get, name)).id

    def _auth_for(self, name: str) -> AuthConfig | None:
        """The credentials the client sent (X-Registry-Config) for the registry ``name`` lives on."""
        domain = reference.parse(name).domain
        keys = [domain]
        if domain == reference.DEFAULT_DOMAIN:
            keys += ["https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io"]
        for key in keys:
            for candidate in (key, f"https://{key}", f"http://{key}"):
                if candidate in self.options.registry_auth:
                    return self.options.registry_auth[candidate]
        return None

    # ------------------------------------------------------------------
    # One instruction

    async def _dispatch(self, state: _Stage, instruction: Instruction) -> None:
        """Substitute the variables of ``instruction``, run it, then remove its intermediate containers."""
        env = state.args.environment(state.config.get("Env") or [])
        instruction = instruction.expanded(env, self.escape)
        steps = {"run": self._run, "copy": self._copy, "workdir": self._workdir, "config": self._config_only}
        succeeded = False
        try:
            await steps[instruction.STEP](state, instruction)
            succeeded = True
        finally:
            if self.options.force_remove or (self.options.remove and succeeded):
                await self._remove_intermediate_containers()
        state.config["Image"] = state.image_id

    async def _config_only(self, state: _Stage, instruction: Instruction) -> None:
        """ENV, LABEL, CMD, ENTRYPOINT, ARG, MAINTAINER...: a new config, committed without a layer."""
        note = instruction.note_before(state.config)
        if note:
            await self._stdout(note)
        state.config = instruction.apply(state.config, cmd_set=state.cmd_set)
        instruction.update_stage(state)
        text = instruction.history_text(state.config)
        step_config = dict(state.config, Cmd=self._shell(state) + ["#(nop) ", text])
        if await self._use_cache(state, step_config):
            return
        container_id = await self._create_container(state, step_config) if state.image_id else ""
        # A container that never ran changed nothing: no layer.
        await self._commit(state, _as_created(step_config, container_id), container_id, None)

    async def _workdir(self, state: _Stage, instruction: Workdir) -> None:
        """WORKDIR: the new working directory is created now (0755, root), in the step's own layer."""
        state.config = instruction.apply(state.config)
        workdir = state.config["WorkingDir"]
        step_config = dict(state.config, Cmd=self._shell(state) + ["#(nop) " + instruction.history_text(state.config)])
        if await self._use_cache(state, step_config):
            return

        def plan_workdir() -> LayerPlan:
            plan = LayerPlan(self._image_view(state.image_id))
            target = plan.resolve(workdir)
            if plan.kind(target) not in ("dir", None):
                # Docker finds this out creating the container, so before " ---> Running in".
                raise InvalidArgument(f"Cannot mkdir: {workdir} is not a directory")
            plan.make_dirs(target, ROOT)
            return plan

        plan = await asyncio.to_thread(plan_workdir)
        if not state.image_id:
            await self._commit_new_layer(state, step_config, plan.write)
            return
        container_id = await self._create_container(state, step_config)
        upper = self.backend.upper_dir(container_id)
        await asyncio.to_thread(plan.write, upper)
        await self._commit(state, _as_created(step_config, container_id), container_id, upper)

    # ------------------------------------------------------------------
    # RUN

    async def _run(self, state: _Stage, instruction: Run) -> None:
        if instruction.mounts:
            raise InvalidArgument(BUILDKIT_ONLY.format("mount"))
        argv = instruction.argv(state.config.get("Shell"))
        env = list(state.config.get("Env") or [])
        arg_env = state.args.run_environment(env)
        # The cache key must see the build args RUN got (they change what it does), so Docker
        # records them in front of the command: "|2 A=1 B=2 /bin/sh -c make".
        recorded_cmd = argv
        if arg_env:
            recorded = sorted(item for item in arg_env
                              if state.args.is_referenced_or_not_builtin(item.partition("=")[0]))
            recorded_cmd = [f"|{len(recorded)}", *recorded, *argv]
        step_config = dict(state.config, Cmd=recorded_cmd)
        if recorded_cmd:
            step_config["Entrypoint"] = None  # RUN never goes through the image's ENTRYPOINT
        if await self._use_cache(state, step_config):
            return
        if not state.image_id:
            program = argv[0] if argv else "shell"
            raise InvalidArgument(f"cannot RUN in an empty image (FROM scratch): it has no {program}")
        run_config = dict(state.config, Cmd=argv, Env=env + arg_env, Healthcheck={"Test": ["NONE"]})
        if argv:
            run_config["Entrypoint"] = [""]
        container_id = await self._create_container(state, run_config)
        exit_code = await self._run_container(container_id)
        if exit_code != 0:
            raise BuildError(f"The command '{' '.join(argv)}' returned a non-zero code: {exit_code}", exit_code)
        upper = self.backend.upper_dir(container_id)
        await self._commit(state, step_config, container_id, upper)

    async def _run_container(self, container_id: str) -> int:
        """Start the container, relay its output as it comes (stderr in red), return its exit code."""
        output, stop_listening = self.backend.listen(container_id)  # before start: not a byte is missed
        decoders = {stream: codecs.getincrementaldecoder("utf-8")("replace") for stream in ("stdout", "stderr")}
        try:
            await self.backend.start(container_id)
            while (item := await output.get()) is not None:
                stream, data = item
                await self._relay(stream, decoders[stream].decode(data))
            for stream, decoder in decoders.items():
                await self._relay(stream, decoder.decode(b"", final=True))
        except asyncio.CancelledError:
            # The client went away: a build that nobody waits for must not leave its process behind.
            with contextlib.suppress(NbdockError):
                await self.backend.remove(container_id)
            self.intermediate_containers.remove(container_id)
            raise
        finally:
            stop_listening()
        return await self.backend.wait(container_id)

    async def _relay(self, stream: str, text: str) -> None:
        if text:
            await (self._stdout(text) if stream == "stdout" else self._stderr(text))

    # ------------------------------------------------------------------
    # COPY and ADD

    async def _copy(self, state: _Stage, instruction: Copy | Add) -> None:
        name = instruction.keyword
        if instruction.chmod:
            raise InvalidArgument(BUILDKIT_ONLY.format("chmod"))
        from_stage = getattr(instruction, "from_stage", "")
        tree = self.context_tree
        if from_stage:
            try:
                tree = await self._tree_of(from_stage)
            except NbdockError as error:
                raise InvalidArgument(f"invalid from flag value {from_stage}: {error.message}") from None
        # COPY --from keeps the owners files had in the other image, unless --chown says otherwise.
        keep_owners = bool(from_stage) and not instruction.chown
        scratch = tempfile.mkdtemp(prefix="build-copy-", dir=self.store.tmp_dir)
        try:
            try:
                sources = await self._find_sources(instruction, tree, scratch)
            except NbdockError as error:
                raise type(error)(f"{name} failed: {error.message}") from None
            if len(sources) > 1 and not instruction.dest.endswith("/"):
                raise InvalidArgument(f"When using {name} with more than one source file, "
                                      "the destination must be a directory and end with a /")
            chown_comment = f"--chown={instruction.chown}" if instruction.chown else ""
            text = f"{name} {chown_comment}{combined_checksum(sources)} in {instruction.dest} "
            step_config = dict(state.config, Cmd=self._shell(state) + ["#(nop) " + text])
            if await self._use_cache(state, step_config):
                return
            dest = normalize_dest(state.config.get("WorkingDir") or "", instruction.dest)
            await self._commit_new_layer(state, step_config, lambda layer_dir: write_copy(
                layer_dir, self._image_view(state.image_id), sources, dest, chown=instruction.chown,
                keep_owners=keep_owners, unpack_dir=scratch if name == "ADD" else None))
        finally:
            await asyncio.to_thread(shutil.rmtree, scratch, True)

    async def _find_sources(self, instruction, tree: SourceTree, scratch: str) -> list[CopySource]:
        sources: list[CopySource] = []
        for number, pattern in enumerate(instruction.sources):
            if is_url(pattern):
                if instruction.keyword != "ADD":
                    raise InvalidArgument("source can't be a URL for COPY")
                directory = os.path.join(scratch, f"download-{number}")
                sources.append(await self._download(pattern, instruction.dest, directory))
            else:
                sources += await asyncio.to_thread(tree.find, pattern)
        if not sources:
            raise InvalidArgument("no source files were specified")
        return sources

    async def _download(self, url: str, dest: str, directory: str) -> CopySource:
        """ADD's remote source: downloaded (with progress messages) to a directory of its own."""
        loop = asyncio.get_running_loop()
        last_report = [0.0]

        def report(current: int, total: int | None) -> None:
            # From the download thread: at most a few messages a second reach the client.
            if time.monotonic() - last_report[0] < 0.1 and current != total:
                return
            last_report[0] = time.monotonic()
            message: dict[str, Any] = {"status": "Downloading", "progressDetail": {"current": current}}
            if total:
                message["progressDetail"]["total"] = total
                message["progress"] = progress_bar(current, total)
            asyncio.run_coroutine_threadsafe(self.output.send(message), loop).result()

        os.mkdir(directory)
        name = await asyncio.to_thread(download, url, directory, report, REMOTE_SIZE_LIMIT)
        await self._stdout("\n")
        if not name and dest.endswith("/"):
            raise InvalidArgument(f"cannot determine filename for source {url}")
        tree = SourceTree(RootView([directory]), is_context=False, headers_from_client_tar=False)
        (file_name,) = os.listdir(directory)
        source = await asyncio.to_thread(tree.source, file_name)
        # A download is copied as it is, even a tar; its cache key is the bare checksum (no "file:").
        return dataclasses.replace(source, unpack=False, checksum=tree.checksum(file_name))

    async def _tree_of(self, name_or_index: str) -> SourceTree:
        """COPY --from: a previous stage (by name or number) or an image."""
        image_id = None
        for done in self.finished:
            if done.name and done.name == name_or_index.lower():
                image_id = done.image_id
        if image_id is None and name_or_index.lstrip("+-").isdigit():
            index = int(name_or_index)
            if index == len(self.finished):
                raise InvalidArgument("refers to current build stage")
            if not 0 <= index < len(self.finished):
                raise InvalidArgument("index out of bounds")
            image_id = self.finished[index].image_id
        if image_id is None:
            image_id = await self._image_id(name_or_index)
        view = await asyncio.to_thread(self._image_view, image_id)
        return SourceTree(view, is_context=False, headers_from_client_tar=False)

    # ------------------------------------------------------------------
    # Containers, cache, commits

    async def _create_container(self, state: _Stage, config: dict[str, Any]) -> str:
        """An intermediate container of the current image, as Docker's builder creates them."""
        body = dict(config, Image=state.image_id, HostConfig=self.options.host_config)
        created = await self.backend.create(body)
        container_id = created["Id"]
        self.intermediate_containers.append(container_id)
        for warning in created.get("Warnings") or []:
            await self._stdout(f" ---> [Warning] {warning}\n")
        await self._stdout(f" ---> Running in {container_id[:12]}\n")
        return container_id

    async def _remove_intermediate_containers(self) -> None:
        while self.intermediate_containers:
            container_id = self.intermediate_containers[0]
            try:
                await self.backend.remove(container_id)
            except NbdockError as error:
                await self._stdout(f"Error removing intermediate container {container_id[:12]}: {error.message}\n")
                return
            self.intermediate_containers.pop(0)
            await self._stdout(f"Removing intermediate container {container_id[:12]}\n")

    async def _use_cache(self, state: _Stage, step_config: dict[str, Any]) -> bool:
        """Take the image an identical earlier step made, if there is one (and the cache is in use)."""
        if self.options.no_cache or state.cache_busted:
            return False
        cached = await asyncio.to_thread(find_cached_step, self.store, state.image_id, step_config)
        if cached is not None and self.options.cache_from is not None:
            if self._cache_sources is None:
                self._cache_sources = await asyncio.to_thread(cache_sources, self.store, self.options.cache_from)
            if cached not in self._cache_sources:
                cached = None
        if cached is None:
            state.cache_busted = True
            return False
        await self._stdout(" ---> Using cache\n")
        state.image_id = cached
        return True

    async def _commit_new_layer(self, state: _Stage, step_config: dict[str, Any], fill) -> None:
        """Commit a step whose files ``fill(layer_dir)`` writes into a fresh directory (no container)."""
        layer_dir = self.store.temp_path("build-layer")
        os.mkdir(layer_dir)
        try:
            await asyncio.to_thread(fill, layer_dir)
            await self._commit(state, step_config, "", layer_dir, move=True)
        finally:
            await asyncio.to_thread(shutil.rmtree, layer_dir, True)

    async def _commit(self, state: _Stage, step_config: dict[str, Any], container_id: str, layer_dir: str | None,
                      move: bool = False) -> None:
        state.image_id = await asyncio.to_thread(self._store_image, state, step_config, container_id, layer_dir, move)

    def _store_image(self, state: _Stage, step_config: dict[str, Any], container_id: str, layer_dir: str | None,
                     move: bool) -> str:
        """The step's image: the parent's layers and history plus this step's, and the new config.

        ``layer_dir`` holds the step's changes (a container's upper
        directory); none, or no changes, makes an "empty layer" step.
        ``move`` lets the store take the directory over instead of copying it.
        """
        parent = self.store.config(state.image_id) if state.image_id else {}
        diff_ids = list((parent.get("rootfs") or {}).get("diff_ids") or [])
        new_layer = None
        if layer_dir and os.listdir(layer_dir):
            diff_id = self.store.add_layer_from_dir(layer_dir, move=move).diff_id
            new_layer = None if diff_id == EMPTY_LAYER_DIFF_ID else diff_id
        created = format_time(time.time())
        step = {"created": created}
        if state.maintainer:
            step["author"] = state.maintainer
        step["created_by"] = " ".join(step_config.get("Cmd") or [])
        if new_layer is None:
            step["empty_layer"] = True
        image_config: dict[str, Any] = {"architecture": parent.get("architecture") or host_architecture()}
        if state.maintainer:
            image_config["author"] = state.maintainer
        image_config["config"] = full_container_config(state.config)
        if container_id:
            image_config["container"] = container_id
        image_config.update({
            "container_config": full_container_config(step_config),
            "created": created,
            "docker_version": DOCKER_VERSION,
            "history": list(parent.get("history") or []) + [step],
            "os": parent.get("os") or "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids + ([new_layer] if new_layer else [])},
        })
        if parent.get("variant"):
            image_config["variant"] = parent["variant"]
        return self.store.create_image(image_config, parent=state.image_id or None)

    def _image_view(self, image_id: str) -> RootView:
        """An image's files, its layers merged (blocking: a layer may be unpacked on first use)."""
        if not image_id:
            return RootView([])
        diff_ids = self.store.config(image_id)["rootfs"]["diff_ids"]
        return RootView([self.store.layer_dir(diff_id) for diff_id in reversed(diff_ids)])

    @staticmethod
    def _shell(state: _Stage) -> list[str]:
        return list(state.config.get("Shell") or DEFAULT_SHELL)

    # ------------------------------------------------------------------
    # Output

    async def _stdout(self, text: str) -> None:
        await self.output.send({"stream": text})

    async def _stderr(self, text: str) -> None:
        # Docker colours what goes to stderr red, the terminal escapes inside the text.
        await self.output.send({"stream": f"\x1b[91m{text}\x1b[0m"})


def _as_created(step_config: dict[str, Any], container_id: str) -> dict[str, Any]:
    """The step's config as Docker records it after creating the step's container.

    Creating a container fills in its hostname (the short ID) and an empty
    label map, and Docker's builder keeps the very object it created the
    container with -- so ``docker inspect`` shows them in ContainerConfig.
    """
    if not container_id:
        return step_config
    return dict(step_config, Hostname=container_id[:12], Labels=step_config.get("Labels") or {})
