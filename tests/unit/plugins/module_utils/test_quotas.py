# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Quotas and drains of an export's consumers (issue 23): the model, the rendering on the exporter's ingress gateway
and the peering bundle. The lab proves them on real Envoys (tests/integration/test_mesh_seed.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import re
import shutil
import subprocess

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.model.peers import bundle_body
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import FederationModelError, Quota
from ansible_collections.meshfed.federation.plugins.module_utils.peering.changes import changes
from ansible_collections.meshfed.federation.plugins.module_utils.render.export_limits import client_uri_regex
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_export import render_exports

from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.parties import (
    ORG_A, ORG_B, module_fixture, two_parties)
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.scenarios import seed, settings

two = module_fixture(two_parties)


def two_consumers(details_consumers, tcp_consumers=None):
    """The seed with cluster3 (c3.example.com) importing details too; ``details_consumers`` replaces the export's
    consumers; with ``tcp_consumers`` cluster2 also exports a tcp echo to them."""
    clusters = seed()
    clusters["cluster3"] = {"identity": "c3.example.com", "imports": [
        {"name": "details", "namespace": "default", "port": 9080, "from": [{"cluster": "cluster2", "export": "details"}]}]}
    clusters["cluster2"]["exports"][1]["consumers"] = details_consumers
    if tcp_consumers:
        clusters["cluster2"]["exports"].append(
            {"name": "echo", "protocol": "tcp", "service": {"namespace": "bookinfo", "name": "echo", "port": 7000},
             "consumers": tcp_consumers})
    return clusters


def errors_of(clusters, values=None):
    with pytest.raises(FederationModelError) as caught:
        build_model(clusters, settings(**(values or {})))
    return caught.value.errors


def exports_of(clusters, values=None):
    return render_exports(build_model(clusters, settings(**(values or {}))), "cluster2")


def one(objects, kind, name):
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, [(o["kind"], o["metadata"]["name"]) for o in objects]
    return found[0]


# --------------------------------------------------------------------------- the model


def test_a_consumer_entry_takes_a_quota_per_protocol_and_a_state():
    federation = build_model(two_consumers(
        [{"cluster": "cluster1", "quota": {"requests_per_second": 5}}, {"cluster": "cluster3", "state": "drained"}],
        [{"cluster": "cluster1", "quota": {"connections": 2}}]), settings())
    details, echo = federation.clusters["cluster2"].exports[1:]
    assert [(g.consumer, g.quota, g.state) for g in details.grants] == [
        ("cluster1", Quota(5, None), "active"), ("cluster3", None, "drained")]
    assert [(g.consumer, g.quota, g.state) for g in echo.grants] == [("cluster1", Quota(None, 2), "active")]


@pytest.mark.parametrize("entry, message", [
    ({"quota": {"requests_per_second": 0}}, "quota.requests_per_second 0 must be an integer from 1 to 1000000"),
    ({"quota": {"requests_per_second": True}}, "quota.requests_per_second True must be an integer from 1 to 1000000"),
    ({"quota": {"requests_per_second": "5"}}, "quota.requests_per_second '5' must be an integer from 1 to 1000000"),
    ({"quota": {"requests_per_second": 1000001}},
     "quota.requests_per_second 1000001 must be an integer from 1 to 1000000"),
    ({"quota": 5}, "quota must be a mapping: {requests_per_second: N} for an http export"),
    ({"state": "paused"}, "state 'paused' must be one of active, drained"),
])
def test_a_bad_quota_or_state_names_the_cluster_the_variable_the_consumer_and_the_field(entry, message):
    clusters = two_consumers([dict({"cluster": "cluster1"}, **entry), "cluster3"])
    assert errors_of(clusters) == ["cluster2: meshfed_exports[1] (details): consumers[0]: " + message]


def test_a_quota_field_of_the_other_protocol_is_refused():
    clusters = two_consumers(["cluster1", {"cluster": "cluster3", "quota": {"connections": 3}}],
                             [{"cluster": "cluster1", "quota": {"requests_per_second": 3}}])
    assert errors_of(clusters) == [
        "cluster2: meshfed_exports[1] (details): consumers[1]: quota: unknown field 'connections' "
        "(allowed: requests_per_second)",
        "cluster2: meshfed_exports[1] (details): consumers[1]: quota.requests_per_second None must be an integer "
        "from 1 to 1000000",
        "cluster2: meshfed_exports[2] (echo): consumers[0]: quota: unknown field 'requests_per_second' "
        "(allowed: connections)",
        "cluster2: meshfed_exports[2] (echo): consumers[0]: quota.connections None must be an integer from 1 to 1000000"]


def test_consumers_sharing_a_tcp_server_must_share_its_connection_limit():
    # one party (the inventory's), so one server: a limit for cluster1 alone would hold cluster3 as well
    clusters = two_consumers(["cluster1", "cluster3"],
                             [{"cluster": "cluster1", "quota": {"connections": 2}}, "cluster3"])
    assert errors_of(clusters) == [
        "cluster2: meshfed_exports[2] (echo): consumers [0] cluster1, [1] cluster3 share one server (party "
        "meshfed, a tcp export): their quota.connections must be equal, or all absent (got cluster1: 2, cluster3: none)"]
    clusters = two_consumers(["cluster1", "cluster3"], [{"cluster": c, "quota": {"connections": 2}}
                                                        for c in ("cluster1", "cluster3")])
    build_model(clusters, settings())


def test_with_a_ca_per_cluster_each_consumer_has_its_own_server_and_limit():
    clusters = two_consumers(["cluster1", "cluster3"],
                             [{"cluster": "cluster1", "quota": {"connections": 2}}, "cluster3"])
    federation = build_model(clusters, settings(ca_scope="cluster"))
    echo = federation.clusters["cluster2"].exports[2]
    assert len({g.host for g in echo.grants}) == 2


# --------------------------------------------------------------------------- rendering


def test_a_drained_consumer_is_denied_on_its_server_only_and_keeps_its_grant():
    exports = exports_of(two_consumers(["cluster1", {"cluster": "cluster3", "state": "drained"}]))
    deny = one(exports, "AuthorizationPolicy", "meshfed-deny-export-details")["spec"]
    sni = [{"key": "connection.sni", "values": ["details.c2.example.com"]}]
    assert deny["rules"][-1] == {"from": [{"source": {"principals": ["c3.example.com/meshfed-gateway"]}}], "when": sni}
    assert not [r for r in deny["rules"] if "c1.example.com/meshfed-gateway" in r["from"][0]["source"].get("principals", [])]
    # the grant stays: its ALLOW rule and the server's subjectAltNames (the handshake passes, the request gets 403)
    allow = one(exports, "AuthorizationPolicy", "meshfed-export-details")["spec"]
    assert ["c3.example.com/meshfed-gateway"] in [r["from"][0]["source"]["principals"] for r in allow["rules"]]
    gateway = one(exports, "Gateway", "meshfed-export-details")["spec"]
    assert "c3.example.com" in gateway["servers"][0]["tls"]["subjectAltNames"]
    # undrained: the DENY is the one of an export without drains
    undrained = exports_of(two_consumers(["cluster1", "cluster3"]))
    assert one(undrained, "AuthorizationPolicy", "meshfed-deny-export-details")["spec"]["rules"] == deny["rules"][:-1]


def test_no_quota_no_envoy_filter():
    assert not [o for o in exports_of(two_consumers(["cluster1", {"cluster": "cluster3", "state": "drained"}]))
                if o["kind"] == "EnvoyFilter"]


def http_quota_filter(values=None):
    exports = exports_of(two_consumers([{"cluster": "cluster1", "quota": {"requests_per_second": 5}}, "cluster3"]),
                         values)
    return exports, one(exports, "EnvoyFilter", "meshfed-quota-export-details")


def test_an_http_quota_is_a_bucket_of_its_consumer_before_the_router_of_its_server_only():
    exports, envoy_filter = http_quota_filter()
    assert envoy_filter["apiVersion"] == "networking.istio.io/v1alpha3"
    assert envoy_filter["metadata"]["namespace"] == "istio-private-gateways"
    assert envoy_filter["metadata"]["labels"]["meshfed.io/role"] == "export"
    gateway = one(exports, "Gateway", "meshfed-export-details")["spec"]
    # our ingress gateway's pods only, as the export's Gateway selects them
    assert envoy_filter["spec"]["workloadSelector"] == {"labels": gateway["selector"]}
    (patch,) = envoy_filter["spec"]["configPatches"]
    assert patch["applyTo"] == "HTTP_FILTER"
    assert patch["match"] == {"context": "GATEWAY", "listener": {"portNumber": 15443, "filterChain": {
        "sni": "details.c2.example.com", "filter": {"name": "envoy.filters.network.http_connection_manager",
                                                    "subFilter": {"name": "envoy.filters.http.router"}}}}}
    assert ["./" + patch["match"]["listener"]["filterChain"]["sni"]] == gateway["servers"][0]["hosts"]
    assert patch["patch"]["operation"] == "INSERT_BEFORE"
    config = patch["patch"]["value"]["typed_config"]
    assert config["descriptors"] == [{"entries": [{"key": "meshfed-consumer", "value": "cluster1"}],
                                      "token_bucket": {"max_tokens": 5, "tokens_per_fill": 5, "fill_interval": "1s"}}]
    (rate_limit,) = config["rate_limits"]
    match = rate_limit["actions"][0]["header_value_match"]
    assert (match["descriptor_key"], match["descriptor_value"]) == ("meshfed-consumer", "cluster1")
    assert match["headers"][0]["name"] == "x-forwarded-client-cert"
    # cluster3 matches no descriptor: the default bucket, a million a second, is not taken by cluster1's requests
    assert config["token_bucket"]["tokens_per_fill"] == 1000000 and config["always_consume_default_token_bucket"] is False
    assert config["enable_x_ratelimit_headers"] == "DRAFT_VERSION_03"
    assert config["response_headers_to_add"][0]["header"] == {"key": "retry-after", "value": "1"}
    # before the Gateway whose chains it patches
    order = [(o["kind"], o["metadata"]["name"]) for o in exports]
    assert order.index(("EnvoyFilter", "meshfed-quota-export-details")) < order.index(("Gateway", "meshfed-export-details"))


def test_the_envoy_filter_keeps_its_api_version_whatever_the_istio_api_version():
    dummy, envoy_filter = http_quota_filter({"istio_api_version": "networking.istio.io/v1beta1"})
    assert envoy_filter["apiVersion"] == "networking.istio.io/v1alpha3"


XFCC_C1 = ('By=spiffe://cluster.local/ns/istio-private-gateways/sa/istio-private-ingressgateway;'
           'Hash=0f1e;Subject="CN=c1.example.com,O=meshfed";URI=spiffe://c1.example.com/meshfed-gateway;'
           'DNS=c1.example.com')


@pytest.mark.parametrize("header, matches", [
    (XFCC_C1, True),
    ('URI=spiffe://c1.example.com/meshfed-gateway', True),
    (XFCC_C1.replace("c1.example.com/", "c3.example.com/"), False),
    (XFCC_C1.replace("c1.example.com/", "c1xexample.com/"), False),
    (XFCC_C1.replace("meshfed-gateway", "meshfed-gateway-2"), False),
    # a Subject (quoted) carrying another consumer's URI does not pass for it
    ('Hash=0f;Subject="CN=x;URI=spiffe://c1.example.com/meshfed-gateway;";URI=spiffe://c3.example.com/meshfed-gateway',
     False),
    ('Hash=0f;Subject="CN=x\\";URI=spiffe://c1.example.com/meshfed-gateway;";URI=spiffe://c3.example.com/meshfed-gateway',
     False),
])
def test_a_consumer_bucket_takes_the_certificate_uri_the_gateway_wrote(header, matches):
    # Envoy's safe_regex is RE2, matched against the whole value, as fullmatch does here
    assert bool(re.fullmatch(client_uri_regex("c1.example.com"), header)) is matches


def test_a_tcp_quota_is_a_connection_limit_first_in_its_server_chain():
    exports = exports_of(two_consumers(["cluster1", "cluster3"],
                                       [{"cluster": c, "quota": {"connections": 2}} for c in ("cluster1", "cluster3")]))
    (patch,) = one(exports, "EnvoyFilter", "meshfed-quota-export-echo")["spec"]["configPatches"]
    assert patch["applyTo"] == "NETWORK_FILTER" and patch["patch"]["operation"] == "INSERT_FIRST"
    assert patch["match"]["listener"]["filterChain"] == {"sni": "echo.c2.example.com"}
    assert patch["patch"]["value"]["typed_config"]["max_connections"] == 2
    assert not [o for o in exports if o["kind"] == "EnvoyFilter" and o["metadata"]["name"].endswith("-details")]


def test_with_a_ca_per_cluster_each_server_has_its_own_limit():
    clusters = two_consumers(["cluster1", "cluster3"], [{"cluster": "cluster1", "quota": {"connections": 2}}, "cluster3"])
    exports = exports_of(clusters, {"ca_scope": "cluster"})
    (patch,) = one(exports, "EnvoyFilter", "meshfed-quota-export-echo")["spec"]["configPatches"]
    assert patch["match"]["listener"]["filterChain"] == {"sni": "echo.cluster1.c2.example.com"}


ENVOY = shutil.which("envoy")


@pytest.mark.skipif(ENVOY is None, reason="no envoy binary to validate the filters with")
def test_envoy_accepts_the_rendered_filters(tmp_path):
    dummy, http_filter = http_quota_filter()
    exports = exports_of(two_consumers(["cluster1", "cluster3"],
                                       [{"cluster": c, "quota": {"connections": 2}} for c in ("cluster1", "cluster3")]))
    tcp_filter = one(exports, "EnvoyFilter", "meshfed-quota-export-echo")
    router = {"name": "envoy.filters.http.router",
              "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}
    hcm = {"name": "envoy.filters.network.http_connection_manager", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "x", "route_config": {"virtual_hosts": [{"name": "a", "domains": ["*"], "routes": [
            {"match": {"prefix": "/"}, "direct_response": {"status": 200}}]}]},
        "http_filters": [http_filter["spec"]["configPatches"][0]["patch"]["value"], router]}}
    tcp = {"name": "envoy.filters.network.tcp_proxy", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", "stat_prefix": "t",
        "cluster": "c"}}
    config = {"static_resources": {
        "listeners": [{"name": "l", "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
                       "filter_chains": [{"filters": [hcm]}, {
                           "filter_chain_match": {"server_names": ["echo.c2.example.com"]},
                           "filters": [tcp_filter["spec"]["configPatches"][0]["patch"]["value"], tcp]}]}],
        "clusters": [{"name": "c", "type": "STATIC", "load_assignment": {"cluster_name": "c", "endpoints": [
            {"lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                "address": "127.0.0.1", "port_value": 1}}}}]}]}}]}}
    path = tmp_path / "envoy.json"
    path.write_text(json.dumps(config))
    checked = subprocess.run([ENVOY, "--mode", "validate", "-c", str(path)], capture_output=True, text=True,
                             timeout=120, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # and refuses a typo, so the check is not vacuous
    http_filter["spec"]["configPatches"][0]["patch"]["value"]["typed_config"]["token_buckets"] = {}
    path.write_text(json.dumps(config))
    assert subprocess.run([ENVOY, "--mode", "validate", "-c", str(path)], capture_output=True,
                          timeout=120, check=False).returncode != 0


# --------------------------------------------------------------------------- the peering bundle


def with_limits(clusters):
    clusters = copy.deepcopy(clusters)
    clusters["cluster2"]["exports"][0]["consumers"] = [
        {"cluster": "org-a/cluster1", "quota": {"requests_per_second": 7}, "state": "drained"}]
    return clusters


def test_a_bundle_carries_quota_and_state_only_when_set(two):
    parties, dummy, full = two
    org_b = parties["org-b"]
    plain = bundle_body(full["org-b"], "org-a", [], {"cluster2": full["org-b"].clusters["cluster2"].gateway_address},
                        "t0", "t1")
    (consumer,) = plain["clusters"][0]["exports"][0]["consumers"]
    assert consumer == {"cluster": "cluster1", "methods": None, "paths": None}
    limited = build_model(with_limits(ORG_B), org_b.settings(), [
        {"name": "org-a", "bundle": org_b_peer_body(full), "signer": None}])
    body = bundle_body(limited, "org-a", [], {"cluster2": limited.clusters["cluster2"].gateway_address}, "t0", "t1")
    (consumer,) = body["clusters"][0]["exports"][0]["consumers"]
    assert consumer == {"cluster": "cluster1", "methods": None, "paths": None,
                        "quota": {"requests_per_second": 7}, "state": "drained"}
    # the consumer reads them into its model (its status shows them) and renders nothing of them
    consumer_model = build_model(copy.deepcopy(ORG_A), {"party": "org-a"},
                                 [{"name": "org-b", "bundle": body, "signer": None}])
    (grant,) = consumer_model.peers["org-b"].clusters["org-b/cluster2"].exports[0].grants
    assert (grant.quota, grant.state) == (Quota(7, None), "drained")
    assert changes(plain, body) == ["cluster2: export reviews-v2 consumer cluster1 quota none -> 7 requests per second",
                                    "cluster2: export reviews-v2 consumer cluster1 state active -> drained"]


def org_b_peer_body(full):
    """What org-a hands org-b (org-b's model needs it to know org-a/cluster1's identity)."""
    federation = full["org-a"]
    return bundle_body(federation, "org-b", [], {"cluster1": federation.clusters["cluster1"].gateway_address}, "t0", "t1")


def test_a_bad_quota_in_a_bundle_names_the_peer_and_the_bundle_field(two):
    dummy, dummy, full = two
    body = bundle_body(full["org-b"], "org-a", [], {"cluster2": full["org-b"].clusters["cluster2"].gateway_address},
                       "t0", "t1")
    body["clusters"][0]["exports"][0]["consumers"][0]["quota"] = {"connections": 1}
    with pytest.raises(FederationModelError) as caught:
        build_model(copy.deepcopy(ORG_A), {"party": "org-a"}, [{"name": "org-b", "bundle": body, "signer": None}])
    assert caught.value.errors[:1] == [
        "peer org-b: bundle field body.clusters[0].exports[0].consumers[0]: quota: unknown field 'connections' "
        "(allowed: requests_per_second)"]


def test_a_reader_ignores_consumer_fields_it_does_not_know(two):
    dummy, dummy, full = two
    body = bundle_body(full["org-b"], "org-a", [], {"cluster2": full["org-b"].clusters["cluster2"].gateway_address},
                       "t0", "t1")
    # a field of a later release (callers, quota and state are known now)
    body["clusters"][0]["exports"][0]["consumers"][0]["priority"] = 3
    build_model(copy.deepcopy(ORG_A), {"party": "org-a"}, [{"name": "org-b", "bundle": body, "signer": None}])


def test_quotas_and_states_survive_the_validated_model_and_show_in_the_summary():
    from ansible_collections.meshfed.federation.plugins.module_utils.model.data import model_data, model_from_data
    from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.federation_model import (
        export_summary)
    federation = build_model(two_consumers(
        [{"cluster": "cluster1", "quota": {"requests_per_second": 5}}, {"cluster": "cluster3", "state": "drained"}],
        [{"cluster": "cluster1", "quota": {"connections": 2}}]), settings())
    assert model_from_data(json.loads(json.dumps(model_data(federation)))) == federation
    details, echo = federation.clusters["cluster2"].exports[1:]
    assert export_summary(details)["limits"] == [
        {"consumer": "cluster1", "state": "active", "quota": {"requests_per_second": 5}},
        {"consumer": "cluster3", "state": "drained", "quota": None}]
    assert export_summary(echo)["limits"] == [{"consumer": "cluster1", "state": "active", "quota": {"connections": 2}}]
    assert export_summary(federation.clusters["cluster2"].exports[0])["limits"] == []
