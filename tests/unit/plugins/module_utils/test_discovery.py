# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where consumers reach a peer: the inventory's address, or the one discovery found in its Service status."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.observe.discovery import (
    GatewayAddressError, ingress_address_from_service, peer_addresses, placeholder_address)
from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import render_gateways
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.scenarios import CREDENTIAL, seed, settings
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.test_render import find, imports_of


def test_peer_address_discovery():
    clusters = seed()
    clusters["cluster2"]["gateway_address"] = "discover"
    federation = build_model(clusters, settings())
    with pytest.raises(GatewayAddressError, match="address of cluster 'cluster2' is unknown"):
        imports_of(federation, "cluster1")
    imports = imports_of(federation, "cluster1", {"cluster2": {"address": "192.0.2.7", "port": 31443}})
    entry = find(imports, "ServiceEntry", "meshfed-peer-cluster2")["spec"]
    assert entry["endpoints"] == [{"address": "192.0.2.7"}] and entry["ports"][0]["number"] == 31443


def test_ingress_address_comes_from_the_load_balancer_status_and_the_cross_cluster_port():
    service = find(render_gateways(build_model(seed(), settings()), "cluster2", CREDENTIAL), "Service", "istio-private-ingressgateway")
    assert ingress_address_from_service(service) is None  # no load balancer has answered yet
    assert ingress_address_from_service(None) is None
    service["status"] = {"loadBalancer": {"ingress": [{"hostname": "lb-1.example.net"}, {"ip": "192.0.2.9"}]}}
    assert ingress_address_from_service(service) == {"address": "lb-1.example.net", "port": 15443}
    service["spec"]["ports"] = [p for p in service["spec"]["ports"] if p["port"] != 15443]
    assert ingress_address_from_service(service) is None  # the mTLS port is gone: nothing peers could dial


def test_a_discovered_loopback_or_link_local_address_is_refused_unless_allowed():
    clusters = seed()
    clusters["cluster2"]["gateway_address"] = "discover"
    for address, kind in (("127.0.0.42", "loopback"), ("169.254.10.1", "link-local"), ("fe80::1", "link-local")):
        with pytest.raises(GatewayAddressError) as refused:
            imports_of(build_model(clusters), "cluster1", {"cluster2": {"address": address, "port": 15443}})
        assert str(refused.value).startswith(
            "the private ingress gateway address of cluster 'cluster2' found by discovery (meshfed_gateway_address: "
            "discover, field address of its Service's status.loadBalancer.ingress): %s is a %s address" % (address, kind))
    imports = imports_of(build_model(clusters, settings()), "cluster1", {"cluster2": {"address": "127.0.0.42"}})
    assert find(imports, "ServiceEntry", "meshfed-peer-cluster2")["spec"]["endpoints"] == [{"address": "127.0.0.42"}]


def test_a_preflight_plans_with_a_placeholder_where_a_peer_address_is_not_known_yet():
    clusters = seed()
    clusters["cluster2"]["gateway_address"] = "discover"
    federation = build_model(clusters, settings())
    fallback = placeholder_address(federation.settings)
    assert fallback.port == federation.settings.ingress_port and fallback.address.endswith(".invalid")
    assert peer_addresses(federation, "cluster1", None, fallback) == {"cluster2": fallback}
    refused = {"cluster2": {"address": "127.0.0.42", "port": 15443}}
    assert peer_addresses(build_model(clusters), "cluster1", refused, fallback) == {"cluster2": fallback}
    found = peer_addresses(federation, "cluster1", {"cluster2": {"address": "192.0.2.7", "port": 31443}}, fallback)
    assert found["cluster2"].address == "192.0.2.7"
    with pytest.raises(GatewayAddressError):
        peer_addresses(federation, "cluster1", None)
