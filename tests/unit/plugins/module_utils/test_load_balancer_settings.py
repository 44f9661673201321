# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ingress gateway Service's load balancer settings (annotations, source ranges, external traffic policy) and
TCP keepalive on the peer hop: validation, rendering, the model's travel as data and re-runs that change nothing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.module_backends import validated_model as handover
from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import FederationModelError, TcpKeepalive
from ansible_collections.meshfed.federation.plugins.module_utils.apply.plan import (
    SPEC_HASH, is_unchanged, spec_hash, stamp)
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import render_gateways
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_import import render_imports
from ansible_collections.meshfed.federation.plugins.plugin_utils.inventory import federation_description
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.scenarios import (
    CREDENTIAL, seed, settings)

ANNOTATIONS = {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
               "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
               "networking.gke.io/load-balancer-type": "Internal"}
RANGES = ["198.51.100.0/24", "203.0.113.7/32", "2001:db8::/48"]
PEER = "meshfed-peer-cluster2"


def errors_of(values):
    with pytest.raises(FederationModelError) as caught:
        build_model(seed(), settings(**values))
    return caught.value.errors


def services(values=None):
    """The ingress and egress gateway Services of the seed (cluster2 exports; cluster1 imports)."""
    federation = build_model(seed(), settings(**(values or {})))
    ingress = [o for o in render_gateways(federation, "cluster2", CREDENTIAL) if o["kind"] == "Service"]
    egress = [o for o in render_gateways(federation, "cluster1", CREDENTIAL) if o["kind"] == "Service"]
    return ingress[0], egress[0]


def peer_rule(values=None):
    federation = build_model(seed(), settings(**(values or {})))
    rules = [o for o in render_imports(federation, "cluster1", {"cluster2": federation.clusters["cluster2"].gateway_address})
             if o["kind"] == "DestinationRule" and o["metadata"]["name"] == PEER]
    assert len(rules) == 1
    return rules[0]


# --- defaults: today's ingress Service, keepalive on the peer rule ---

def test_by_default_the_ingress_service_has_no_annotations_ranges_or_policy():
    ingress, egress = services()
    assert "annotations" not in ingress["metadata"]
    assert ingress["spec"] == {"type": "LoadBalancer", "selector": ingress["spec"]["selector"],
                               "ports": [{"name": "https-for-cross-cluster-communication", "port": 15443,
                                          "protocol": "TCP", "targetPort": 15443}]}
    # the egress gateway's Service carries only its exportTo (mesh settings), none of the load balancer's settings
    assert list(egress["metadata"]["annotations"]) == ["networking.istio.io/exportTo"]
    assert egress["spec"]["type"] == "ClusterIP"


def test_the_peer_rule_has_tcp_keepalive_by_default_and_its_subsets_inherit_it():
    spec = peer_rule()["spec"]
    assert spec["trafficPolicy"]["connectionPool"] == {
        "tcp": {"tcpKeepalive": {"time": "45s", "interval": "15s", "probes": 3}}}
    # a subset's policy replaces the rule's field by field: the subsets of the seed's http exports set a pool of
    # their own (the client's protocol, through the egress gateway's HTTP hop), so it repeats the keepalive
    assert [s["trafficPolicy"]["connectionPool"]["tcp"] for s in spec["subsets"]] == [
        spec["trafficPolicy"]["connectionPool"]["tcp"]] * 2
    assert build_model(seed(), settings()).settings.peer_tcp_keepalive == TcpKeepalive(45, 15, 3)


# --- rendering what is set ---

def test_annotations_ranges_and_policy_go_on_the_ingress_service_only():
    ingress, egress = services({"ingress_service_annotations": ANNOTATIONS,
                                "ingress_load_balancer_source_ranges": RANGES,
                                "ingress_external_traffic_policy": "Local"})
    assert ingress["metadata"]["annotations"] == ANNOTATIONS
    assert ingress["spec"]["loadBalancerSourceRanges"] == RANGES
    assert ingress["spec"]["externalTrafficPolicy"] == "Local"
    assert list(egress["metadata"]["annotations"]) == ["networking.istio.io/exportTo"]
    assert "loadBalancerSourceRanges" not in egress["spec"] and "externalTrafficPolicy" not in egress["spec"]


def test_a_node_port_ingress_takes_an_external_traffic_policy():
    ingress, dummy = services({"ingress_service_type": "NodePort", "ingress_external_traffic_policy": "Cluster"})
    assert ingress["spec"]["type"] == "NodePort" and ingress["spec"]["externalTrafficPolicy"] == "Cluster"


@pytest.mark.parametrize("value, expected", [
    ({"time": "2m", "interval": "30s", "probes": 5}, {"time": "120s", "interval": "30s", "probes": 5}),
    ({"time": "300s"}, {"time": "300s", "interval": "15s", "probes": 3}),   # the other fields keep the default
    ({"interval": "1500ms", "probes": None}, None),                          # 1.5 s: refused below
    (True, {"time": "45s", "interval": "15s", "probes": 3}),
    ("yes", {"time": "45s", "interval": "15s", "probes": 3}),
])
def test_the_keepalive_is_written_in_whole_seconds(value, expected):
    if expected is None:
        assert errors_of({"peer_tcp_keepalive": value})
        return
    assert peer_rule({"peer_tcp_keepalive": value})["spec"]["trafficPolicy"]["connectionPool"] == {
        "tcp": {"tcpKeepalive": expected}}


@pytest.mark.parametrize("off", [False, "false", "no", "off"])
def test_the_keepalive_can_be_turned_off(off):
    assert "connectionPool" not in peer_rule({"peer_tcp_keepalive": off})["spec"]["trafficPolicy"]
    assert build_model(seed(), settings(peer_tcp_keepalive=off)).settings.peer_tcp_keepalive is None


# --- every bad value names the variable and the field ---

@pytest.mark.parametrize("values, expected", [
    ({"ingress_service_annotations": ["nlb"]},
     ["settings: meshfed_ingress_service_annotations ['nlb'] must be a mapping of annotation names to strings"]),
    ({"ingress_service_annotations": {"service.beta.kubernetes.io/aws-load-balancer-internal": True}},
     ["settings: meshfed_ingress_service_annotations[service.beta.kubernetes.io/aws-load-balancer-internal] value "
      "True is not a string (quote true, false and numbers in YAML)"]),
    ({"ingress_service_annotations": {"Bad_Prefix/x": "1", "a/b/c": "1", "with space": "1", "/empty": "1"}},
     ["settings: meshfed_ingress_service_annotations key %r is not a valid annotation name (an optional lowercase DNS "
      "prefix and '/', then at most 63 alphanumerics, '-', '_' or '.')" % key
      for key in ("/empty", "Bad_Prefix/x", "a/b/c", "with space")]),
    ({"ingress_service_annotations": {"meshfed.io/spec-hash": "x"}},
     ["settings: meshfed_ingress_service_annotations key 'meshfed.io/spec-hash' is reserved: meshfed sets the "
      "meshfed.io/* annotations itself"]),
    ({"ingress_load_balancer_source_ranges": "10.0.0.0/8"},
     ["settings: meshfed_ingress_load_balancer_source_ranges '10.0.0.0/8' must be a list of CIDRs such as "
      "203.0.113.0/24 or 2001:db8::/48"]),
    ({"ingress_load_balancer_source_ranges": ["10.0.0.0/8", "203.0.113.7", "10.0.0.1/8", "10.0.0.0/33",
                                              "2001:db8::/129", "example.com/24", 24, "2001:db8::1/48"]},
     ["settings: meshfed_ingress_load_balancer_source_ranges[1] '203.0.113.7' is not a CIDR: an address and a prefix "
      "length, such as 203.0.113.7/32 or 2001:db8::/48",
      "settings: meshfed_ingress_load_balancer_source_ranges[2] '10.0.0.1/8' is not a CIDR: 10.0.0.1/8 has host bits "
      "set (the network is 10.0.0.0/8)",
      "settings: meshfed_ingress_load_balancer_source_ranges[3] '10.0.0.0/33' is not a CIDR: '33' is not a valid "
      "netmask",
      "settings: meshfed_ingress_load_balancer_source_ranges[4] '2001:db8::/129' is not a CIDR: '129' is not a valid "
      "netmask",
      "settings: meshfed_ingress_load_balancer_source_ranges[5] 'example.com/24' is not a CIDR: Expected 4 octets in "
      "'example.com'",
      "settings: meshfed_ingress_load_balancer_source_ranges[6] 24 is not a CIDR: an address and a prefix length, "
      "such as 203.0.113.7/32 or 2001:db8::/48",
      "settings: meshfed_ingress_load_balancer_source_ranges[7] '2001:db8::1/48' is not a CIDR: 2001:db8::1/48 has "
      "host bits set (the network is 2001:db8::/48)"]),
    ({"ingress_load_balancer_source_ranges": ["10.0.0.0/8"], "ingress_service_type": "NodePort"},
     ["settings: meshfed_ingress_load_balancer_source_ranges is set but meshfed_ingress_service_type is NodePort: "
      "source ranges apply to a LoadBalancer Service only"]),
    ({"ingress_external_traffic_policy": "local"},
     ["settings: meshfed_ingress_external_traffic_policy 'local' must be one of Cluster, Local"]),
    ({"ingress_external_traffic_policy": "Local", "ingress_service_type": "ClusterIP"},
     ["settings: meshfed_ingress_external_traffic_policy is set but meshfed_ingress_service_type is ClusterIP: an "
      "external traffic policy applies to a LoadBalancer or NodePort Service only"]),
    ({"peer_tcp_keepalive": "45s"},
     ["settings: meshfed_peer_tcp_keepalive '45s' must be false or a mapping with time, interval and probes"]),
    ({"peer_tcp_keepalive": {"time": 45, "interval": "1500ms", "probes": 0, "idle": "1m"}},
     ["settings: meshfed_peer_tcp_keepalive: unknown field 'idle' (allowed: time, interval, probes)",
      "settings: meshfed_peer_tcp_keepalive.time 45 must be a duration of whole seconds between 1s and 32767s, such "
      "as '45s' or '2m'",
      "settings: meshfed_peer_tcp_keepalive.interval '1500ms' must be a duration of whole seconds between 1s and "
      "32767s, such as '45s' or '2m'",
      "settings: meshfed_peer_tcp_keepalive.probes 0 must be an integer between 1 and 127"]),
    ({"peer_tcp_keepalive": {"time": "10h", "probes": True}},
     ["settings: meshfed_peer_tcp_keepalive.time '10h' must be a duration of whole seconds between 1s and 32767s, "
      "such as '45s' or '2m'",
      "settings: meshfed_peer_tcp_keepalive.probes True must be an integer between 1 and 127"]),
])
def test_every_bad_value_names_the_variable_and_the_field(values, expected):
    assert errors_of(values) == expected


def test_empty_values_mean_none():
    ingress, dummy = services({"ingress_service_annotations": {}, "ingress_load_balancer_source_ranges": [],
                               "ingress_external_traffic_policy": ""})
    assert ingress == services()[0]
    # ranges on another Service type are refused only when there are some
    assert build_model(seed(), settings(ingress_service_type="ClusterIP", ingress_load_balancer_source_ranges=[]))


# --- from the inventory to the model, through a module's arguments, and re-runs ---

def test_the_settings_come_from_the_inventory_variables():
    hostvars = {"cluster1": {"meshfed_identity": "c1.example.com", "meshfed_ingress_service_annotations": ANNOTATIONS,
                             "meshfed_ingress_load_balancer_source_ranges": RANGES,
                             "meshfed_ingress_external_traffic_policy": "Local",
                             "meshfed_peer_tcp_keepalive": False}}
    assert federation_description(hostvars, ["cluster1"], "cluster1")["settings"] == {
        "ingress_service_annotations": ANNOTATIONS, "ingress_load_balancer_source_ranges": RANGES,
        "ingress_external_traffic_policy": "Local", "peer_tcp_keepalive": False}


LB_SETTINGS = {"ingress_service_annotations": ANNOTATIONS, "ingress_load_balancer_source_ranges": RANGES,
               "ingress_external_traffic_policy": "Local", "peer_tcp_keepalive": {"time": "2m"}}


def test_the_validated_model_travels_as_json_with_the_same_objects_and_hashes():
    federation = build_model(seed(), settings(**LB_SETTINGS))
    travelled = handover.read_federation(json.loads(json.dumps(handover.validated(federation))))[0]
    assert travelled == federation
    assert travelled.settings.ingress_load_balancer_source_ranges == tuple(RANGES)
    for cluster in ("cluster1", "cluster2"):
        assert [spec_hash(o) for o in render_gateways(travelled, cluster, CREDENTIAL)] == [
            spec_hash(o) for o in render_gateways(federation, cluster, CREDENTIAL)]
    addresses = {"cluster2": federation.clusters["cluster2"].gateway_address}
    assert [spec_hash(o) for o in render_imports(travelled, "cluster1", addresses)] == [
        spec_hash(o) for o in render_imports(federation, "cluster1", addresses)]


def test_a_rerun_against_the_service_as_the_api_server_returns_it_is_unchanged():
    ingress, dummy = services(LB_SETTINGS)
    stamped = stamp(ingress)
    assert stamped["metadata"]["annotations"] == dict(ANNOTATIONS, **{SPEC_HASH: spec_hash(ingress)})
    live = copy.deepcopy(stamped)
    # what the API server and a cloud controller add: defaults, allocations, annotations of their own, status
    live["metadata"]["annotations"]["cloud.google.com/neg"] = '{"ingress":true}'
    live["metadata"].update(uid="u", resourceVersion="7", managedFields=[])
    live["spec"].update(clusterIP="10.96.0.20", clusterIPs=["10.96.0.20"], healthCheckNodePort=31000,
                        sessionAffinity="None", allocateLoadBalancerNodePorts=True, internalTrafficPolicy="Cluster")
    live["spec"]["ports"][0]["nodePort"] = 30443
    live["status"] = {"loadBalancer": {"ingress": [{"ip": "198.51.100.10"}]}}
    assert is_unchanged(stamp(services(LB_SETTINGS)[0]), live)
    # an annotation removed by someone else, or a range dropped from the inventory, is noticed
    del live["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-type"]
    assert not is_unchanged(stamped, live)
    fewer = services(dict(LB_SETTINGS, ingress_load_balancer_source_ranges=RANGES[:1]))[0]
    assert spec_hash(fewer) != spec_hash(ingress)
