"""Legacy links on a user-defined network: a DNS alias only the linking container resolves."""

from ipaddress import IPv4Address

from nbdock.network.services import NameTable

NET = "n" * 64
TABLE = NameTable(
    networks_of={"worker": (NET,), "other": (NET,)},
    members={NET: ("appnet", [(frozenset({"app_web_1", "web"}), IPv4Address("10.5.0.2"))])},
    # `--link app_web_1:webby` made by the worker (compose's `links: [web:webby]`)
    link_aliases={("worker", NET): {"webby": "app_web_1"}},
)


def test_link_alias_answers_the_linked_containers_address_for_the_linking_container():
    assert TABLE.addresses("worker", "webby") == [IPv4Address("10.5.0.2")]
    assert TABLE.addresses("worker", "web") == [IPv4Address("10.5.0.2")]


def test_link_alias_is_unknown_to_every_other_container():
    assert TABLE.addresses("other", "webby") is None


def test_link_to_a_container_not_on_the_network_resolves_nothing():
    table = NameTable(networks_of=TABLE.networks_of, members=TABLE.members,
                      link_aliases={("worker", NET): {"gone": "app_gone_1"}})
    assert table.addresses("worker", "gone") is None
