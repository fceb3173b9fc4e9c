"""IPAM rules, without root: subnets avoid routes, addresses and MACs follow Docker's."""

from ipaddress import IPv4Address, IPv4Network, IPv6Address

import pytest

from nbdock.network import ipam
from nbdock.network.errors import InvalidNetworkArgument, NetworkConflict, NetworkForbidden


def test_first_pool_subnet_that_overlaps_no_route_is_chosen():
    routes = [IPv4Network("172.17.0.0/16"), IPv4Network("172.18.5.0/24"), IPv4Network("192.0.2.0/24")]
    assert ipam.choose_subnet(routes) == IPv4Network("172.19.0.0/16")


def test_pool_moves_on_to_192_168_when_172_is_full():
    routes = [IPv4Network("172.16.0.0/12"), IPv4Network("192.168.0.0/24")]
    assert ipam.choose_subnet(routes) == IPv4Network("192.168.16.0/20")


def test_exhausted_pool_is_refused():
    with pytest.raises(NetworkForbidden, match="non-overlapping IPv4 address pool"):
        ipam.choose_subnet([IPv4Network("0.0.0.0/1"), IPv4Network("128.0.0.0/1")])


def test_user_subnet_overlapping_a_route_is_refused_in_dockers_words():
    with pytest.raises(NetworkForbidden, match="^Pool overlaps with other one on this address space$"):
        ipam.check_subnet_free(IPv4Network("172.17.3.0/24"), [IPv4Network("172.17.0.0/16")])


@pytest.mark.parametrize("text", ["nonsense", "10.0.0.0/33", "fd00::/64", "10.0.0.0/31"])
def test_bad_subnets_are_named_in_the_error(text):
    with pytest.raises(InvalidNetworkArgument, match=f"invalid subnet '{text}'"):
        ipam.parse_subnet(text)


def test_subnet_host_bits_are_cleared():
    assert ipam.parse_subnet("10.99.3.4/16") == IPv4Network("10.99.0.0/16")


def test_gateway_outside_the_subnet_is_refused():
    with pytest.raises(InvalidNetworkArgument, match="no matching subnet for gateway 10.97.0.1"):
        ipam.check_gateway(IPv4Address("10.97.0.1"), IPv4Network("10.98.0.0/16"))


def test_addresses_are_handed_out_lowest_first_skipping_the_gateway():
    subnet, gateway = IPv4Network("10.1.0.0/29"), IPv4Address("10.1.0.1")
    taken = [IPv4Address("10.1.0.2"), IPv4Address("10.1.0.4")]
    assert ipam.allocate_address(subnet, gateway, taken) == IPv4Address("10.1.0.3")
    everything = [IPv4Address(f"10.1.0.{i}") for i in range(2, 7)]
    with pytest.raises(NetworkConflict, match="no available IPv4 addresses"):
        ipam.allocate_address(subnet, gateway, everything)


def test_requested_address_checks():
    subnet, gateway = IPv4Network("10.1.0.0/24"), IPv4Address("10.1.0.1")
    assert ipam.allocate_address(subnet, gateway, [], IPv4Address("10.1.0.50")) == IPv4Address("10.1.0.50")
    with pytest.raises(NetworkConflict, match="^Address already in use$"):
        ipam.allocate_address(subnet, gateway, [], IPv4Address("10.1.0.1"))
    with pytest.raises(InvalidNetworkArgument, match="does not belong to any of this network's subnets"):
        ipam.allocate_address(subnet, gateway, [], IPv4Address("10.2.0.5"))
    with pytest.raises(InvalidNetworkArgument, match="does not belong"):
        ipam.allocate_address(subnet, gateway, [], IPv4Address("10.1.0.255"))


def test_mac_is_02_42_then_the_address():
    assert ipam.mac_address(IPv4Address("172.18.0.2")) == "02:42:ac:12:00:02"


def test_an_ip_range_bounds_what_the_engine_picks_its_first_address_included():
    subnet, gateway = IPv4Network("172.28.0.0/16"), IPv4Address("172.28.5.254")
    block = ipam.parse_ip_range("172.28.5.0/24", subnet)
    assert ipam.allocate_address(subnet, gateway, [], ip_range=block) == IPv4Address("172.28.5.0")
    taken = [IPv4Address("172.28.5.0")]
    assert ipam.allocate_address(subnet, gateway, taken, ip_range=block) == IPv4Address("172.28.5.1")
    # A requested address may lie outside the range, anywhere in the subnet.
    assert ipam.allocate_address(subnet, gateway, [], IPv4Address("172.28.9.9"), ip_range=block) == IPv4Address("172.28.9.9")


def test_a_range_never_hands_out_the_subnets_own_network_address():
    subnet = IPv4Network("10.1.0.0/24")
    block = ipam.parse_ip_range("10.1.0.0/30", subnet)
    assert ipam.allocate_address(subnet, IPv4Address("10.1.0.1"), [], ip_range=block) == IPv4Address("10.1.0.2")


def test_a_full_range_is_refused_though_the_subnet_has_room():
    subnet, block = IPv4Network("10.1.0.0/16"), IPv4Network("10.1.5.0/30")
    with pytest.raises(NetworkConflict, match="no available IPv4 addresses"):
        ipam.allocate_address(subnet, IPv4Address("10.1.0.1"), list(block), ip_range=block)


def test_auxiliary_addresses_are_never_handed_out_and_refused_when_asked_for():
    subnet, gateway = IPv4Network("10.1.0.0/24"), IPv4Address("10.1.0.1")
    reserved = ipam.parse_aux_addresses({"router": "10.1.0.2", "printer": "10.1.0.3"}, subnet)
    assert reserved == {"router": IPv4Address("10.1.0.2"), "printer": IPv4Address("10.1.0.3")}
    assert ipam.allocate_address(subnet, gateway, [], reserved=reserved.values()) == IPv4Address("10.1.0.4")
    with pytest.raises(NetworkConflict, match="^Address already in use$"):
        ipam.allocate_address(subnet, gateway, [], IPv4Address("10.1.0.2"), reserved=reserved.values())


def test_a_range_or_auxiliary_address_outside_the_subnet_gets_dockers_words():
    subnet = IPv4Network("10.247.0.0/16")
    with pytest.raises(InvalidNetworkArgument, match="^no matching subnet for range 10.248.5.0/24$"):
        ipam.parse_ip_range("10.248.5.0/24", subnet)
    with pytest.raises(InvalidNetworkArgument, match="^no matching subnet for aux-address 10.248.1.1$"):
        ipam.parse_aux_addresses({"r": "10.248.1.1"}, subnet)
    with pytest.raises(InvalidNetworkArgument, match="invalid IP range 'ten'"):
        ipam.parse_ip_range("ten", subnet)


def test_a_requests_pools_split_by_family_one_of_each():
    v4, v6 = ipam.pools_by_family([{"Subnet": "2001:db8::/64", "Gateway": "2001:db8::ffff"}, {"Subnet": "10.1.0.0/16"}])
    assert (v4, v6) == ({"Subnet": "10.1.0.0/16"}, {"Subnet": "2001:db8::/64", "Gateway": "2001:db8::ffff"})
    assert ipam.pools_by_family([]) == ({}, {})
    with pytest.raises(InvalidNetworkArgument, match="one IPv4 subnet each"):
        ipam.pools_by_family([{"Subnet": "10.1.0.0/16"}, {"Subnet": "10.2.0.0/16"}])
    with pytest.raises(InvalidNetworkArgument, match="needs a subnet"):
        ipam.pools_by_family([{"Gateway": "10.1.0.1"}])
    with pytest.raises(InvalidNetworkArgument, match="invalid subnet 'ten'"):
        ipam.pools_by_family([{"Subnet": "ten"}])


def test_ipv6_addresses_come_from_the_pool_or_its_range_after_the_gateway():
    subnet = ipam.parse_subnet6("2001:db8:5::/64")
    gateway = ipam.default_gateway(subnet)
    assert gateway == IPv6Address("2001:db8:5::1")
    assert ipam.allocate_address(subnet, gateway, []) == IPv6Address("2001:db8:5::2")
    block = ipam.parse_ip_range("2001:db8:5::/96", subnet)
    assert ipam.allocate_address(subnet, IPv6Address("2001:db8:5::ffff"), [], ip_range=block) == IPv6Address("2001:db8:5::1")
    with pytest.raises(InvalidNetworkArgument, match="It does not belong to any of this network's subnets"):
        ipam.allocate_address(subnet, gateway, [], IPv6Address("2001:db8:6::5"))
    with pytest.raises(InvalidNetworkArgument, match="no matching subnet for range 10.1.0.0/24"):
        ipam.parse_ip_range("10.1.0.0/24", subnet)
    with pytest.raises(InvalidNetworkArgument, match="invalid IPv6 subnet '10.1.0.0/24'"):
        ipam.parse_subnet6("10.1.0.0/24")
