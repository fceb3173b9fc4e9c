"""Image commands: images, history, rmi, tag, pull, push, login, logout, save, load, import, build, image prune."""

from __future__ import annotations

import contextlib
import getpass
import io
import os
import tarfile
import time
import uuid
from typing import TYPE_CHECKING, BinaryIO

import docker

from nbdock.builder.context import tar_context
from nbdock.image import reference
from nbdock.registry import credentials

from ..errors import CommandError
from ..flags import Parsed
from ..formatting import Listing, ellipsis, human_duration, human_size
from ..streams import json_messages, message_error
from .containers import go_time, parse_filters, write_file_atomically

if TYPE_CHECKING:
    from . import Session

IMAGES_HEADERS = {
    "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "ID": "IMAGE ID", "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
}
IMAGES_FORMAT = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGES_DIGESTS_FORMAT = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"


def images(session: Session, parsed: Parsed) -> int:
    summaries = session.api.images(name=parsed.args[0] if parsed.args else None, all=parsed.all,
                                   filters=parse_filters(parsed.filter) or None)
    rows = [row for summary in summaries for row in image_rows(summary, truncate=not parsed.no_trunc)]
    if parsed.quiet:
        unique_ids = dict.fromkeys(row["ID"] for row in rows)
        session.console.out("".join(f"{image_id}\n" for image_id in unique_ids))
        return 0
    default = IMAGES_DIGESTS_FORMAT if parsed.digests else IMAGES_FORMAT
    session.console.listing(Listing(IMAGES_HEADERS, default, rows), parsed.format)
    return 0


def image_rows(summary: dict, truncate: bool = True, now: float | None = None) -> list[dict]:
    """The ``docker images`` rows of one image: one per tag, or one ``<none>`` row."""
    now = time.time() if now is None else now
    image_id = summary["Id"]
    shown_id = image_id.removeprefix("sha256:")[:12] if truncate else image_id
    digests = {name.partition("@")[0]: name.partition("@")[2] for name in summary.get("RepoDigests") or []}
    pairs = []
    for tagged in summary.get("RepoTags") or []:
        repository, _, tag = tagged.rpartition(":")
        if repository and tag != "<none>":
            pairs.append((repository, tag))
    if not pairs:
        pairs = [(repository, "<none>") for repository in digests if repository != "<none>"] or [("<none>", "<none>")]
    common = {
        "ID": shown_id,
        "CreatedSince": human_duration(now - summary.get("Created", now)) + " ago",
        "CreatedAt": go_time(summary.get("Created", 0)),
        "Size": human_size(summary.get("Size", 0)),
        "Containers": "N/A" if summary.get("Containers", -1) < 0 else str(summary["Containers"]),
    }
    return [{"Repository": repository, "Tag": tag, "Digest": digests.get(repository, "<none>"), **common}
            for repository, tag in pairs]


HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
                   "Size": "SIZE", "Comment": "COMMENT"}
HISTORY_FORMAT = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"


def history(session: Session, parsed: Parsed) -> int:
    rows = [history_row(layer, truncate=not parsed.no_trunc, human=parsed.human) for layer in session.api.history(parsed.args[0])]
    session.console.listing(Listing(HISTORY_HEADERS, HISTORY_FORMAT, rows), parsed.format, parsed.quiet)
    return 0


def history_row(layer: dict, truncate: bool = True, human: bool = True, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    layer_id = layer.get("Id") or "<missing>"
    if truncate and layer_id != "<missing>":
        layer_id = layer_id.removeprefix("sha256:")[:12]
    created_by = (layer.get("CreatedBy") or "").replace("\t", " ")
    created = layer.get("Created", 0)
    since = human_duration(now - created) + " ago" if human else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))
    return {
        "ID": layer_id,
        "CreatedSince": since,
        "CreatedAt": go_time(created),
        "CreatedBy": ellipsis(created_by, 45) if truncate else created_by,
        "Size": human_size(layer.get("Size", 0)) if human else str(layer.get("Size", 0)),
        "Comment": layer.get("Comment") or "",
    }


def rmi(session: Session, parsed: Parsed) -> int:
    failed = False
    for name in parsed.args:
        try:
            for change in session.api.remove_image(name, force=parsed.force, noprune=parsed.no_prune) or []:
                for kind, what in change.items():
                    session.console.out(f"{kind}: {what}\n")
        except docker.errors.APIError as error:
            session.console.err(f"Error response from daemon: {error.explanation or error}\n")
            failed = True
    return 1 if failed else 0


def tag(session: Session, parsed: Parsed) -> int:
    repository, tag_name = _repository_and_tag(parsed.args[1])
    session.api.tag(parsed.args[0], repository, tag_name)
    return 0


def _repository_and_tag(name: str) -> tuple[str, str]:
    """``localhost:5000/app:v1`` -> (``localhost:5000/app``, ``v1``); a missing tag is ``latest``."""
    reference.parse(name)  # refuses malformed names with Docker's message
    repository, tag_name = docker.utils.parse_repository_tag(name)
    return repository, tag_name or "latest"


def pull(session: Session, parsed: Parsed) -> int:
    name = parsed.args[0]
    wanted = reference.parse(name)
    repository, tag_name = docker.utils.parse_repository_tag(name)
    messages = session.api.pull(repository, None if parsed.all_tags else (tag_name or "latest"), all_tags=parsed.all_tags,
                                stream=True, decode=True, auth_config=session.connection.registry_auth(name))
    if parsed.quiet:
        _silently(messages)
    else:
        session.console.progress(messages)
    session.console.out(f"{wanted if parsed.all_tags else wanted.with_default_tag()}\n")
    return 0


def push(session: Session, parsed: Parsed) -> int:
    name = parsed.args[0]
    repository, tag_name = docker.utils.parse_repository_tag(name)
    messages = session.api.push(repository, None if parsed.all_tags else (tag_name or "latest"), stream=True,
                                decode=True, auth_config=session.connection.registry_auth(name))
    if parsed.quiet:
        _silently(messages)
        session.console.out(f"{repository}:{tag_name or 'latest'}\n")
    else:
        session.console.progress(messages)
    return 0


def login(session: Session, parsed: Parsed) -> int:
    """Check the credentials with the daemon (``POST /auth``), then keep them where the docker CLI does."""
    server = parsed.args[0] if parsed.args else credentials.server_key("docker.io")
    username, password = parsed.username, parsed.password
    if parsed.password_stdin:
        if password:
            raise CommandError("--password and --password-stdin are mutually exclusive", exit_code=125)
        if not username:
            raise CommandError("Must provide --username with --password-stdin", exit_code=125)
        password = session.console.stdin.read().decode().rstrip("\r\n") if session.console.stdin else ""
    if not username or not password:
        if not session.console.has_terminal():
            raise CommandError("Error: Cannot perform an interactive login from a non TTY device")
        username = username or input("Username: ")
        password = password or getpass.getpass("Password: ")
    answer = session.api.login(username, password, registry=server, reauth=True)
    credentials.save(server, username, password, answer.get("IdentityToken") or "")
    session.console.out(f"{answer.get('Status', 'Login Succeeded')}\n")
    return 0


def logout(session: Session, parsed: Parsed) -> int:
    server = parsed.args[0] if parsed.args else "docker.io"
    key = credentials.server_key(server)
    if credentials.remove(server):
        session.console.out(f"Removing login credentials for {key}\n")
    else:
        session.console.out(f"Not logged in to {key}\n")
    return 0


def save(session: Session, parsed: Parsed) -> int:
    api = session.api
    response = api._get(api._url("/images/get"), params={"names": parsed.args}, stream=True, timeout=None)
    api._raise_for_status(response)
    chunks = response.iter_content(chunk_size=1 << 16)
    if parsed.output:
        write_file_atomically(parsed.output, chunks)
    else:
        session.console.binary_output(chunks)
    return 0


def load(session: Session, parsed: Parsed) -> int:
    if parsed.input:
        with open(parsed.input, "rb") as archive:
            return _load_from(session, archive, parsed.quiet)
    if session.console.stdin is None or session.console.stdin.isatty():
        raise CommandError("requested load from stdin, but stdin is empty", exit_code=125)
    return _load_from(session, session.console.stdin, parsed.quiet)


def _load_from(session: Session, archive: BinaryIO, quiet: bool) -> int:
    messages = session.api.load_image(archive, quiet=quiet)
    session.console.progress(json_messages(messages))
    return 0


def import_(session: Session, parsed: Parsed) -> int:
    """``POST /images/create?fromSrc=-`` with the tar as the body, or ``fromSrc=URL`` without one."""
    api = session.api
    source = parsed.args[0]
    repository = parsed.args[1] if len(parsed.args) > 1 else ""
    params = {"repo": repository, "tag": "", "message": parsed.message, "changes": parsed.change or None}
    url = api._url("/images/create")
    if source.startswith(("http://", "https://")):
        response = api._post(url, params={**params, "fromSrc": source}, stream=True, timeout=None)
    elif source == "-":
        response = api._post(url, params={**params, "fromSrc": "-"}, data=session.console.stdin, stream=True, timeout=None)
    else:
        with open(source, "rb") as archive:
            response = api._post(url, params={**params, "fromSrc": "-"}, data=archive, stream=True, timeout=None)
    api._raise_for_status(response)
    for message in json_messages(response.iter_content(chunk_size=None)):
        if "errorDetail" in message:
            raise CommandError(message["errorDetail"].get("message", ""))
        if message.get("status"):
            session.console.out(message["status"] + "\n")
    return 0


# ---------------------------------------------------------------------------
# build


REMOTE_PREFIXES = ("http://", "https://", "git://", "git@", "github.com/")


def build(session: Session, parsed: Parsed) -> int:
    """``docker build PATH | URL | -``: send the context (a directory minus .dockerignore, a remote
    URL the daemon fetches, or what stdin holds: a tar or a lone Dockerfile) and show the steps."""
    path = parsed.args[0]
    options = dict(
        tags=parsed.tag, build_args=dict(parse_build_arg(arg) for arg in parsed.build_arg),
        labels=dict(label.partition("=")[::2] for label in parsed.label),
        no_cache=parsed.no_cache, rm=parsed.rm, force_rm=parsed.force_rm, pull=parsed.pull, target=parsed.target,
        network=parsed.network, quiet=parsed.quiet,
    )
    if path == "-":
        body = session.console.stdin.read() if session.console.stdin else b""
        image_id = build_image(session, None, body=body, dockerfile_name=parsed.file or "Dockerfile", **options)
    elif path.startswith(REMOTE_PREFIXES):
        image_id = build_image(session, None, remote=path, dockerfile_name=parsed.file or "Dockerfile", **options)
    elif not os.path.isdir(path):
        raise CommandError(f'unable to prepare context: path "{path}" not found', exit_code=1)
    else:
        dockerfile_name, dockerfile_text = _locate_dockerfile(session, path, parsed.file)
        image_id = build_image(session, path, dockerfile_name=dockerfile_name, dockerfile_text=dockerfile_text, **options)
    if parsed.quiet:
        session.console.out(image_id + "\n")
    if parsed.iidfile:
        write_file_atomically(parsed.iidfile, [image_id.encode()])
    return 0


def _locate_dockerfile(session: Session, context_dir: str, file_flag: str | None) -> tuple[str, str | None]:
    """(name inside the context, or the text to send when the Dockerfile is not in the context).

    ``-f`` is relative to *our* directory, like any path on a command line;
    the daemon wants a name inside the context.  A Dockerfile from stdin
    (``-f -``) or from outside the context is sent inside the context tar.
    """
    if not file_flag:
        return "Dockerfile", None
    if file_flag == "-":
        return "", session.console.stdin.read().decode() if session.console.stdin else ""
    inside = os.path.relpath(os.path.abspath(file_flag), os.path.abspath(context_dir))
    if not inside.startswith(".." + os.sep):
        return inside, None
    try:
        with open(file_flag, encoding="utf-8") as dockerfile:
            return "", dockerfile.read()
    except OSError as error:
        raise CommandError(f"unable to prepare context: {file_flag}: {error.strerror}") from None


def parse_build_arg(text: str) -> tuple[str, str | None]:
    """``--build-arg K=V``; ``--build-arg K`` alone takes K from our environment (as the CLI does)."""
    key, has_value, value = text.partition("=")
    return key, value if has_value else os.environ.get(key)


def build_image(
    session: Session, context_dir: str | None, *, tags: list[str], dockerfile_name: str = "Dockerfile",
    dockerfile_text: str | None = None, build_args: dict | None = None, labels: dict | None = None,
    no_cache: bool = False, rm: bool = True, force_rm: bool = False, pull: bool = False, target: str | None = None,
    network: str | None = None, quiet: bool = False, body: bytes | None = None, remote: str | None = None,
) -> str:
    """Build and return the image id (``sha256:...``).  Shared by ``build`` and the ``%%dockerfile`` magic.

    The context is ``context_dir`` (packed here, .dockerignore applied), or
    ``body`` (bytes sent as they are: a tar, possibly compressed, or a lone
    Dockerfile), or ``remote`` (a URL or git repository the daemon fetches).
    ``dockerfile_text``, when given, is sent inside the context under a
    generated name -- what ``docker build -f -`` does -- so a Dockerfile
    that is not a file (a notebook cell) builds with the directory's files.
    """
    for name in tags:
        reference.parse(name)  # a bad tag fails here, before the context is sent
    if dockerfile_text is not None:
        dockerfile_name = f".dockerfile.{uuid.uuid4().hex[:20]}"
    options = dict(tag=tags[0] if tags else None, dockerfile=dockerfile_name, buildargs=build_args or None,
                   labels=labels or None, nocache=no_cache, rm=rm, forcerm=force_rm, pull=pull, target=target,
                   network_mode=network, quiet=quiet, decode=True)
    with contextlib.ExitStack() as stack:
        if remote is not None:
            messages = session.api.build(path=remote, **options)  # docker-py sends a URL as remote=
        else:
            if body is not None:
                context = stack.enter_context(io.BytesIO(body))
            else:
                context = stack.enter_context(tar_context(context_dir, dockerfile_name))
                if dockerfile_text is not None:
                    _append_file(context, dockerfile_name, dockerfile_text.encode())
            size = context.seek(0, os.SEEK_END)
            context.seek(0)
            if not quiet:
                session.console.out(f"Sending build context to nbdock daemon  {human_size(size, 4)}\n")
            messages = session.api.build(fileobj=context, custom_context=True, **options)
        aux = session.console.progress(json_messages(messages)) if not quiet else _silently(messages)
    image_id = next((item["ID"] for item in reversed(aux) if isinstance(item, dict) and "ID" in item), None)
    if image_id is None:
        raise CommandError("Server did not provide an image ID")
    for extra in tags[1:]:  # docker-py sends one t=; the CLI sends them all
        repository, tag_name = _repository_and_tag(extra)
        session.api.tag(image_id, repository, tag_name)
        if not quiet:
            session.console.out(f"Successfully tagged {reference.parse(extra).with_default_tag().familiar()}\n")
    return image_id


def _silently(messages) -> list[dict]:
    """Read a message stream without showing it (``-q``); still stop at the first error.  Returns the aux payloads.

    A quiet build (``q=1``) gets no aux message from the daemon -- Docker's
    neither -- only the image id as its one stream line: that counts as
    ``{"ID": ...}`` too.
    """
    aux = []
    for message in json_messages(messages):
        error = message_error(message)
        if error:
            raise error
        if "aux" in message:
            aux.append(message["aux"])
        elif message.get("stream", "").strip().startswith("sha256:"):
            aux.append({"ID": message["stream"].strip()})
    return aux


def _append_file(archive_file: BinaryIO, name: str, content: bytes) -> None:
    """Add one file at the end of an already written tar (tarfile's append mode rewrites the end blocks)."""
    archive_file.seek(0)
    with tarfile.open(fileobj=archive_file, mode="a") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mode = 0o644
        info.mtime = int(time.time())
        archive.addfile(info, io.BytesIO(content))


def image_prune(session: Session, parsed: Parsed) -> int:
    warning = ("WARNING! This will remove all images without at least one container associated to them."
               if parsed.all else "WARNING! This will remove all dangling images.")
    if not parsed.force and not session.console.confirm(warning):
        return 0
    filters = parse_filters(parsed.filter)
    filters["dangling"] = ["false" if parsed.all else "true"]
    answer = session.api.prune_images(filters=filters)
    deleted = answer.get("ImagesDeleted") or []
    if deleted:
        session.console.out("Deleted Images:\n")
        for change in deleted:
            for kind, what in change.items():
                session.console.out(f"{kind.lower()}: {what}\n")
        session.console.out("\n")
    session.console.out(f"Total reclaimed space: {human_size(answer.get('SpaceReclaimed') or 0)}\n")
    return 0


HANDLERS = {
    "images": images, "history": history, "rmi": rmi, "tag": tag, "pull": pull, "push": push, "login": login,
    "logout": logout, "save": save, "load": load, "import": import_, "build": build, "image prune": image_prune,
}
