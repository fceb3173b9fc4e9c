"""The cluster store: etcd, spoken through its v3 HTTP/JSON gateway.

Several nbdock daemons share overlay networks the way Docker 1.12-20.10
daemons did with ``--cluster-store``: everything the daemons must agree on
-- which overlay networks exist, which addresses are taken, which container
is on which host -- lives in one distributed key-value store, **etcd**.
etcd keeps its data consistent across its own members with the Raft
protocol, so nbdock does not have to: a daemon writes a key, and every
other daemon reads it or is told about it.

etcd's native API is gRPC; etcd 3.4 also serves the same calls as JSON over
plain HTTP (the "gateway"), which is all this module uses -- ``http.client``
from the standard library, one POST per call::

    POST /v3/kv/range      {"key": b64, "range_end": b64}      read one key or a range
    POST /v3/kv/put        {"key": b64, "value": b64, "lease": id}
    POST /v3/kv/deleterange
    POST /v3/kv/txn        {"compare": [...], "success": [...], "failure": [...]}
    POST /v3/lease/grant   {"TTL": seconds}         -> {"ID": id}
    POST /v3/lease/keepalive {"ID": id}             -> {"result": {"TTL": seconds}}
    POST /v3/lease/revoke  {"ID": id}
    POST /v3/watch         {"create_request": {...}}  -> a stream of JSON lines, one per batch of events

Keys and values are bytes, sent base64-encoded; 64-bit numbers arrive as
strings (JSON numbers cannot hold them exactly).

Three etcd ideas carry the whole design:

* **Transactions** (``txn``): "if these comparisons hold, do these puts and
  deletes, else do those", atomically.  Comparing a key's *create revision*
  with 0 means "the key does not exist", so "create this address key only
  if nobody has it" is one compare-and-swap: two daemons racing for the same
  address cannot both succeed.
* **Leases**: a key written with a lease is deleted by etcd when the lease
  expires.  A daemon keeps its lease alive every few seconds; if it dies,
  its keys (its containers) vanish from the store by themselves.
* **Watches**: a long-lived request on which etcd sends every change under a
  prefix, in order, from a given revision on.  Every write bumps the store's
  one revision counter, so "what I read at revision R, then every change
  after R" never misses anything.

The client is synchronous (the network library runs on the engine's worker
threads).  With several etcd members, each call tries them in turn.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable

from nbdock.errors import HostError, InvalidArgument
from nbdock.network.errors import NetworkError

log = logging.getLogger("nbdock.network.clusterstore")

#: How long one call may take before the next etcd member is tried.
CALL_TIMEOUT_SECONDS = 3.0


class ClusterStoreError(NetworkError, HostError):
    """etcd could not be reached, or refused a call (HTTP 500 to the client)."""


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    lease: int

    def json(self) -> Any:
        return json.loads(self.value)


@dataclass(frozen=True)
class Event:
    """One change seen by a watch: a put (``value`` set) or a delete."""

    type: str  # "PUT" or "DELETE"
    key: str
    value: bytes | None
    revision: int


def _b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


def prefix_end(prefix: str) -> str:
    """etcd's ``range_end`` for "every key starting with prefix": the prefix with its last byte plus one."""
    raw = prefix.encode()
    return (raw[:-1] + bytes([raw[-1] + 1])).decode()


def _kv(document: dict) -> KeyValue:
    return KeyValue(
        key=_unb64(document["key"]).decode(),
        value=_unb64(document.get("value", "")),
        create_revision=int(document.get("create_revision", 0)),
        mod_revision=int(document.get("mod_revision", 0)),
        lease=int(document.get("lease", 0)),
    )


def parse_store_url(url: str) -> list[tuple[str, int]]:
    """``etcd://HOST:PORT[,HOST:PORT...]`` -> [(host, port)...], as ``--cluster-store`` takes it."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme != "etcd":
        raise InvalidArgument(
            f"invalid --cluster-store {url!r}: nbdock supports etcd only, as etcd://HOST:PORT[,HOST:PORT...]")
    members = []
    for member in rest.rstrip("/").split(","):
        host, colon, port = member.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise InvalidArgument(f"invalid --cluster-store {url!r}: {member!r} is not HOST:PORT")
        members.append((host.strip("[]"), int(port)))
    return members


class EtcdClient:
    """etcd's v3 API over its JSON gateway, trying each member in turn."""

    def __init__(self, members: list[tuple[str, int]], *, timeout: float = CALL_TIMEOUT_SECONDS):
        if not members:
            raise InvalidArgument("the cluster store needs at least one etcd member")
        self.members = list(members)
        self.timeout = timeout

    @property
    def url(self) -> str:
        return "etcd://" + ",".join(f"{host}:{port}" for host, port in self.members)

    # -- one call ---------------------------------------------------------

    def call(self, path: str, body: dict) -> dict:
        """POST ``body`` to ``path`` on the first member that answers; ClusterStoreError if none does."""
        payload = json.dumps(body).encode()
        failures = []
        for host, port in self.members:
            connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
            try:
                connection.request("POST", path, payload, {"Content-Type": "application/json"})
                response = connection.getresponse()
                text = response.read()
            except (OSError, http.client.HTTPException) as err:
                failures.append(f"{host}:{port}: {err or type(err).__name__}")
                continue
            finally:
                connection.close()
            try:
                answer = json.loads(text)
            except ValueError:
                raise ClusterStoreError(f"cluster store {self.url}: {path} answered {response.status} with "
                                        f"something that is not JSON") from None
            if response.status != 200:
                message = answer.get("message") or answer.get("error") or text.decode(errors="replace")
                raise ClusterStoreError(f"cluster store {self.url}: {path} refused: {message}")
            return answer
        raise ClusterStoreError(f"cluster store {self.url} is unreachable ({'; '.join(failures)})")

    # -- keys -------------------------------------------------------------

    def get(self, key: str) -> KeyValue | None:
        kvs = self.call("/v3/kv/range", {"key": _b64(key)}).get("kvs") or []
        return _kv(kvs[0]) if kvs else None

    def get_prefix(self, prefix: str) -> tuple[list[KeyValue], int]:
        """Every key under ``prefix``, and the store's revision at which they were read."""
        answer = self.call("/v3/kv/range", {"key": _b64(prefix), "range_end": _b64(prefix_end(prefix))})
        return [_kv(kv) for kv in answer.get("kvs") or []], int(answer["header"]["revision"])

    def put(self, key: str, value: bytes | str, lease: int = 0) -> None:
        body = {"key": _b64(key), "value": _b64(value)}
        if lease:
            body["lease"] = str(lease)
        self.call("/v3/kv/put", body)

    def delete(self, key: str) -> int:
        """Delete one key; how many were deleted (0 or 1)."""
        return int(self.call("/v3/kv/deleterange", {"key": _b64(key)}).get("deleted", 0))

    def delete_prefix(self, prefix: str) -> int:
        answer = self.call("/v3/kv/deleterange", {"key": _b64(prefix), "range_end": _b64(prefix_end(prefix))})
        return int(answer.get("deleted", 0))

    def txn(self, compare: list[dict], success: list[dict], failure: list[dict] | None = None) -> tuple[bool, dict]:
        """An etcd transaction (build its parts with the helpers below); (succeeded, whole answer)."""
        answer = self.call("/v3/kv/txn", {"compare": compare, "success": success, "failure": failure or []})
        return bool(answer.get("succeeded")), answer

    # -- leases -----------------------------------------------------------

    def grant(self, ttl: int) -> int:
        return int(self.call("/v3/lease/grant", {"TTL": str(ttl)})["ID"])

    def keepalive(self, lease: int) -> int:
        """Renew the lease; the TTL it got, 0 if the lease had already expired (its keys are gone)."""
        try:
            answer = self.call("/v3/lease/keepalive", {"ID": str(lease)})
        except ClusterStoreError as err:
            if "not found" in str(err):
                return 0
            raise
        return int((answer.get("result") or {}).get("TTL", 0))

    def revoke(self, lease: int) -> None:
        """End the lease now: etcd deletes every key written with it."""
        try:
            self.call("/v3/lease/revoke", {"ID": str(lease)})
        except ClusterStoreError as err:
            if "not found" not in str(err):
                raise

    # -- watches ----------------------------------------------------------

    def watch(self, prefix: str, start_revision: int, on_events: Callable[[list[Event]], None]) -> Watch:
        """Call ``on_events`` (on a thread of its own) with every change under ``prefix`` from ``start_revision``.

        The watch ends when its connection does (etcd down, or
        :meth:`Watch.cancel`); ``Watch.ended`` is then set and the caller
        re-reads and watches again.
        """
        watch = Watch(self, prefix, start_revision, on_events)
        watch.start()
        return watch


# Transaction parts, in the gateway's JSON.

def absent(key: str) -> dict:
    """Compare: ``key`` does not exist (its create revision is 0)."""
    return {"key": _b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}


def present(key: str, create_revision: int) -> dict:
    """Compare: ``key`` is the very key read at ``create_revision`` (not deleted and made again since)."""
    return {"key": _b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": str(create_revision)}


def prefix_empty(prefix: str) -> dict:
    """Compare: no key exists under ``prefix`` (a range comparison holds for every key in the range)."""
    return {"key": _b64(prefix), "range_end": _b64(prefix_end(prefix)), "target": "CREATE", "result": "EQUAL",
            "create_revision": "0"}


def prefix_unchanged_since(prefix: str, revision: int) -> dict:
    """Compare: no key under ``prefix`` was created or modified after ``revision`` (optimistic concurrency)."""
    return {"key": _b64(prefix), "range_end": _b64(prefix_end(prefix)), "target": "MOD", "result": "LESS",
            "mod_revision": str(revision + 1)}


def put_op(key: str, value: bytes | str, lease: int = 0) -> dict:
    request = {"key": _b64(key), "value": _b64(value)}
    if lease:
        request["lease"] = str(lease)
    return {"request_put": request}


def delete_op(key: str) -> dict:
    return {"request_delete_range": {"key": _b64(key)}}


class Watch:
    """One etcd watch stream, read on its own thread."""

    def __init__(self, client: EtcdClient, prefix: str, start_revision: int, on_events: Callable[[list[Event]], None]):
        self.client = client
        self.prefix = prefix
        self.start_revision = start_revision
        self.on_events = on_events
        self.ended = threading.Event()
        self._connection: http.client.HTTPConnection | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, name=f"nbdock-etcd-watch {prefix}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        body = json.dumps({"create_request": {
            "key": _b64(self.prefix), "range_end": _b64(prefix_end(self.prefix)),
            "start_revision": str(self.start_revision)}}).encode()
        try:
            for host, port in self.client.members:
                if self._cancelled:
                    return
                # No timeout on reads: a quiet store sends nothing for as long as nothing changes.
                connection = http.client.HTTPConnection(host, port, timeout=self.client.timeout)
                self._connection = connection
                streaming = False
                try:
                    connection.request("POST", "/v3/watch", body, {"Content-Type": "application/json"})
                    response = connection.getresponse()
                    if response.status != 200:
                        continue
                    streaming = True
                    connection.sock.settimeout(None)
                    self._read(response)
                    return  # the stream ended: the owner resynchronises
                except (OSError, http.client.HTTPException, ValueError) as err:
                    if not self._cancelled:
                        log.debug("watch of %s on %s:%s ended: %s", self.prefix, host, port, err)
                    if streaming:
                        return  # events may have been missed: the owner re-reads, then watches again
                finally:
                    connection.close()
        finally:
            self.ended.set()

    def _read(self, response: http.client.HTTPResponse) -> None:
        # The gateway writes each WatchResponse as one line of JSON.
        while line := response.readline():
            if not line.strip():
                continue
            result = json.loads(line).get("result") or {}
            if result.get("compact_revision") or result.get("canceled"):
                return  # asked for history etcd has compacted away: re-read instead
            events = []
            for event in result.get("events") or []:
                kv = event["kv"]
                kind = event.get("type", "PUT")
                events.append(Event(kind, _unb64(kv["key"]).decode(),
                                    _unb64(kv.get("value", "")) if kind == "PUT" else None,
                                    int(kv.get("mod_revision", 0))))
            if events:
                try:
                    self.on_events(events)
                except Exception:  # noqa: BLE001 - a bad event must not end the watch silently
                    log.exception("handling etcd events under %s", self.prefix)

    def cancel(self) -> None:
        """End the stream now: shutting the socket down wakes the thread blocked reading it."""
        self._cancelled = True
        connection = self._connection
        if connection is not None and connection.sock is not None:
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
