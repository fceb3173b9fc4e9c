"""Login, pull and push against registries that demand credentials: htpasswd (Basic) and a token server (Bearer)."""

import asyncio

import pytest

from nbdock.errors import NotFound, Unauthorized
from nbdock.registry import AuthConfig, RegistryClient, RegistryConfig

pytestmark = pytest.mark.root

OFFLINE = RegistryConfig(offline=True)
ALICE_BASIC = AuthConfig("alice", "s3cret")  # the htpasswd registry's user (tests/registry/conftest.py)
ALICE_TOKEN = AuthConfig("alice", "wonderland")  # the token server's user


def stream(store, operation, ref, auth=None):
    async def collect():
        client = RegistryClient(store, OFFLINE)
        return [message async for message in getattr(client, operation)(ref, auth=auth)]

    return asyncio.run(collect())


def login(server, username, password):
    return asyncio.run(RegistryClient(None, OFFLINE).login(server, username, password))


def test_login_to_a_registry_that_wants_no_credentials(anonymous_registry):
    assert login(anonymous_registry.address, "anyone", "anything") == {"Status": "Login Succeeded", "IdentityToken": ""}


# --- Basic (htpasswd) -------------------------------------------------------------------------------


def test_basic_login_checks_the_password(basic_registry):
    address = basic_registry.address
    assert login(address, "alice", "s3cret") == {"Status": "Login Succeeded", "IdentityToken": ""}
    with pytest.raises(Unauthorized) as refused:
        login(f"http://{address}/", "alice", "wrong")
    assert refused.value.message == f"login attempt to http://{address}/v2/ failed with status: 401 Unauthorized"


def test_basic_push_and_pull_with_credentials(store, tmp_path, basic_registry, busybox_image):
    ref = f"{basic_registry.address}/private/box:1"
    store.tag(busybox_image, ref)
    messages = stream(store, "push", ref, ALICE_BASIC)
    assert messages[-1]["aux"]["Tag"] == "1"

    from nbdock.image.store import ImageStore

    other = ImageStore(str(tmp_path / "other"))
    stream(other, "pull", ref, ALICE_BASIC)
    assert other.get(ref).id == busybox_image


def test_basic_registry_without_or_with_wrong_credentials(store, basic_registry, busybox_image):
    address = basic_registry.address
    with pytest.raises(Unauthorized) as anonymous:
        stream(store, "pull", f"{address}/private/box:1")
    assert anonymous.value.message == f'Get "http://{address}/v2/private/box/manifests/1": no basic auth credentials'

    store.tag(busybox_image, f"{address}/private/other:1")
    with pytest.raises(Unauthorized, match="unauthorized: authentication required"):
        stream(store, "push", f"{address}/private/other:1", AuthConfig("alice", "wrong"))


# --- Bearer (token server) --------------------------------------------------------------------------


def test_token_login_returns_an_identity_token(token_registry, token_server):
    answer = login(token_registry.address, "alice", "wonderland")
    assert answer["Status"] == "Login Succeeded"
    assert answer["IdentityToken"] in token_server.refresh_tokens
    request = token_server.requests[-1]
    assert request["params"]["offline_token"] == ["true"] and request["params"]["account"] == ["alice"]

    with pytest.raises(Unauthorized, match="unauthorized: incorrect username or password"):
        login(token_registry.address, "alice", "wrong")


def test_token_push_then_anonymous_pull_of_a_public_repository(
    store, tmp_path, token_registry, token_server, busybox_image
):
    ref = f"{token_registry.address}/public/box:1"
    store.tag(busybox_image, ref)
    stream(store, "push", ref, ALICE_TOKEN)
    pushed_scopes = token_server.requests[-1]["params"]["scope"]
    assert "repository:public/box:pull,push" in pushed_scopes

    from nbdock.image.store import ImageStore

    anonymous = ImageStore(str(tmp_path / "anonymous"))
    messages = stream(anonymous, "pull", ref)
    assert messages[-1] == {"status": f"Status: Downloaded newer image for {ref}"}
    assert token_server.requests[-1]["authorization"] is None


def test_token_anonymous_pull_of_a_private_repository_is_denied(store, token_registry, token_server, busybox_image):
    ref = f"{token_registry.address}/private/box:1"
    store.tag(busybox_image, ref)
    stream(store, "push", ref, ALICE_TOKEN)
    with pytest.raises(NotFound) as denied:
        stream(store, "pull", ref)
    # The registry's challenge says error="insufficient_scope": Docker Hub's very message follows.
    assert denied.value.message == (
        f"pull access denied for {token_registry.address}/private/box, "
        "repository does not exist or may require 'docker login': denied: requested access to the resource is denied"
    )


def test_token_identity_token_pulls_and_mounts_across_repositories(
    store, tmp_path, token_registry, token_server, busybox_image
):
    address = token_registry.address
    source = f"{address}/private/source:1"
    store.tag(busybox_image, source)
    stream(store, "push", source, ALICE_TOKEN)

    identity_token = login(address, "alice", "wonderland")["IdentityToken"]
    from nbdock.image.store import ImageStore

    other = ImageStore(str(tmp_path / "other"))
    stream(other, "pull", source, AuthConfig(identity_token=identity_token))
    assert token_server.requests[-1]["method"] == "POST"  # the refresh-token grant, no password sent

    # The pulled image remembers where it came from, so a push elsewhere mounts its blob;
    # the token must then also allow pulling from the source repository.
    target = f"{address}/private/target:1"
    other.tag(busybox_image, target)
    messages = stream(other, "push", target, AuthConfig(identity_token=identity_token))
    assert [m["status"] for m in messages if m.get("id")] == ["Preparing", "Mounted from private/source"]
    assert "repository:private/source:pull" in token_server.requests[-1]["params"]["scope"][0].split(" ")


def test_a_registry_token_is_sent_as_it_is(store, tmp_path, token_registry, token_server, busybox_image):
    ref = f"{token_registry.address}/private/direct:1"
    store.tag(busybox_image, ref)
    stream(store, "push", ref, ALICE_TOKEN)
    token = token_server.sign("alice", [{"type": "repository", "name": "private/direct", "actions": ["pull"]}])
    asked_before = len(token_server.requests)

    from nbdock.image.store import ImageStore

    other = ImageStore(str(tmp_path / "other"))
    stream(other, "pull", ref, AuthConfig(registry_token=token))
    assert other.get(ref).id == busybox_image
    assert len(token_server.requests) == asked_before  # the token server was not asked
    assert "wonderland" not in repr(ALICE_TOKEN)
