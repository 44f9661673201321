# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The caller's identity across the boundary (issue 23): the consumer's egress gateway as an HTTP hop that sets the
caller header from the calling sidecar's certificate, the exporter's grants per caller (in the same rule as the
consumer's principal and SNI), the headers the exported app reads, the callers in a peering bundle and the
consumer's warning when its import's namespace has no caller granted."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.kube.mesh_settings import (
    Observed, import_findings, warnings)
from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.federation_info import link_targets
from ansible_collections.meshfed.federation.plugins.module_utils.model.queries import ungranted_callers
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import FederationModelError
from ansible_collections.meshfed.federation.plugins.module_utils.peering.changes import changes
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_export import render_exports

from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.parties import (
    ORG_A, ORG_B, module_fixture, two_parties)
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.scenarios import (
    seed, settings, three_clusters)
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.test_model_peers import (
    body_of, verified)
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.test_render_peers import (
    imports_of, spec)

two = module_fixture(two_parties)

CALLER = "x-meshfed-caller"
PRODUCTPAGE = "spiffe://cluster.local/ns/default/sa/bookinfo-productpage"
SLEEP = "spiffe://cluster.local/ns/default/sa/sleep"
WEB = "spiffe://cluster.local/ns/shop/sa/web"


def two_consumers(cluster1_callers=None, cluster3_callers=None):
    """The seed with cluster3 a second consumer of cluster2's details (one party: one server, one SNI for both)."""
    clusters = seed()
    clusters["cluster3"] = {"identity": "c3.example.com",
                            "imports": [{"name": "details", "namespace": "shop", "port": 9080,
                                         "from": [{"cluster": "cluster2", "export": "details"}]}]}
    consumers = []
    for name, callers in (("cluster1", cluster1_callers), ("cluster3", cluster3_callers)):
        consumers.append(dict({"cluster": name}, **({"callers": callers} if callers is not None else {})))
    clusters["cluster2"]["exports"][1]["consumers"] = consumers
    return clusters


def details_policies(federation):
    exports = render_exports(federation, "cluster2")
    return spec(exports, "AuthorizationPolicy", "meshfed-deny-export-details"), spec(
        exports, "AuthorizationPolicy", "meshfed-export-details")


# --------------------------------------------------------------------------- Istio's RBAC, as far as we use it

def _matches(value, patterns):
    """Istio's string match: exact, ``prefix*``, ``*suffix``, ``*``."""
    for pattern in patterns:
        if pattern == "*" or pattern == value:
            return True
        if value is not None and pattern.endswith("*") and value.startswith(pattern[:-1]):
            return True
        if value is not None and pattern.startswith("*") and value.endswith(pattern[1:]):
            return True
    return False


def _condition(condition, request):
    key = condition["key"]
    value = request["sni"] if key == "connection.sni" else request["headers"].get(key[len("request.headers["):-1])
    if "values" in condition:
        return _matches(value, condition["values"])
    return not _matches(value, condition["notValues"])


def _operation(operation, request):
    checks = [("methods", request["method"], False), ("notMethods", request["method"], True),
              ("paths", request["path"], False), ("notPaths", request["path"], True)]
    return all(_matches(value, operation[field]) != negated
               for field, value, negated in checks if field in operation)


def _rule(rule, request):
    source = rule["from"][0]["source"]
    principal = "spiffe://%s/meshfed-gateway" % request["consumer"]
    if "principals" in source and not _matches(principal, ["spiffe://" + p for p in source["principals"]]):
        return False
    if "notPrincipals" in source and _matches(principal, ["spiffe://" + p for p in source["notPrincipals"]]):
        return False
    if "to" in rule and not any(_operation(to["operation"], request) for to in rule["to"]):
        return False
    return all(_condition(c, request) for c in rule.get("when", ()))


def allowed(deny, allow, consumer, caller, sni="details.c2.example.com", method="GET", path="/details/0"):
    """What the ingress gateway's RBAC filters decide (DENY first, then any ALLOW rule) for one request."""
    request = {"consumer": consumer, "sni": sni, "method": method, "path": path,
               "headers": {CALLER: caller} if caller is not None else {}}
    if any(_rule(r, request) for r in deny["rules"]):
        return False
    return any(_rule(r, request) for r in allow["rules"])


# --------------------------------------------------------------------------- the exporter

def test_a_granted_caller_passes_and_another_caller_of_the_same_consumer_gets_403():
    deny, allow = details_policies(build_model(two_consumers(["default/bookinfo-productpage"]), settings()))
    assert allowed(deny, allow, "c1.example.com", PRODUCTPAGE)
    assert not allowed(deny, allow, "c1.example.com", SLEEP)
    assert not allowed(deny, allow, "c1.example.com", None)  # no caller header at all (an old consumer's egress)
    # cluster3's grant names no caller: any of its callers, as before
    assert allowed(deny, allow, "c3.example.com", WEB)
    assert allowed(deny, allow, "c3.example.com", None)


def test_the_callers_are_in_the_same_rule_as_the_consumer_principal_and_sni():
    deny, allow = details_policies(build_model(two_consumers(["default/bookinfo-productpage"], ["shop/*"]),
                                               settings()))
    rules = dict((r["from"][0]["source"]["principals"][0], r) for r in allow["rules"])
    assert rules["c1.example.com/meshfed-gateway"]["when"] == [
        {"key": "connection.sni", "values": ["details.c2.example.com"]},
        {"key": "request.headers[x-meshfed-caller]", "values": [PRODUCTPAGE]}]
    assert rules["c3.example.com/meshfed-gateway"]["when"][1] == {
        "key": "request.headers[x-meshfed-caller]", "values": ["spiffe://cluster.local/ns/shop/sa/*"]}


def test_one_consumer_cannot_claim_another_consumers_callers():
    deny, allow = details_policies(build_model(two_consumers(["default/bookinfo-productpage"], ["shop/*"]),
                                               settings()))
    assert allowed(deny, allow, "c3.example.com", WEB)
    assert allowed(deny, allow, "c3.example.com", "spiffe://cluster.local/ns/shop/sa/cart")  # shop/*
    assert not allowed(deny, allow, "c3.example.com", PRODUCTPAGE)  # cluster1's caller, claimed by cluster3
    assert not allowed(deny, allow, "c1.example.com", WEB)          # and the other way round
    assert allowed(deny, allow, "c1.example.com", PRODUCTPAGE)


def test_the_deny_holds_the_callers_whatever_another_allow_says():
    """A mesh-wide ALLOW (``rules: [{}]``) adds up with ours; the DENY keeps a caller not granted out."""
    deny, allow = details_policies(build_model(two_consumers(["default/bookinfo-productpage"]), settings()))
    allow_all = {"rules": [{"from": [{"source": {}}]}]}
    assert not allowed(deny, allow_all, "c1.example.com", SLEEP)
    assert allowed(deny, allow_all, "c1.example.com", PRODUCTPAGE)
    assert [r for r in deny["rules"] if len(r.get("when", ())) == 2] == [
        {"from": [{"source": {"principals": ["c1.example.com/meshfed-gateway"]}}],
         "when": [{"key": "connection.sni", "values": ["details.c2.example.com"]},
                  {"key": "request.headers[x-meshfed-caller]", "notValues": [PRODUCTPAGE]}]}]


def test_without_callers_the_policies_are_what_they_were():
    deny, allow = details_policies(build_model(two_consumers(), settings()))
    assert not [c for r in allow["rules"] + deny["rules"] for c in r.get("when", ()) if c["key"] != "connection.sni"]


def test_callers_use_the_trust_domain_of_the_consumers_mesh():
    deny, allow = details_policies(build_model(two_consumers(["shop/web"]), settings(trust_domain="a.example")))
    assert allow["rules"][0]["when"][1]["values"] == ["spiffe://a.example/ns/shop/sa/web"]


def test_the_exported_app_reads_the_consumer_from_the_ingress_gateway():
    route = spec(render_exports(build_model(seed(), settings()), "cluster2"), "VirtualService",
                 "meshfed-export-details")["http"][1]
    assert route["headers"] == {"request": {"set": {"x-meshfed-consumer": "%DOWNSTREAM_PEER_URI_SAN%",
                                                    "x-meshfed-consumer-sni": "%REQUESTED_SERVER_NAME%"}}}


def test_a_tcp_export_route_sets_no_header():
    exports = render_exports(build_model(three_clusters(), settings()), "cluster3")
    assert "headers" not in str(spec(exports, "VirtualService", "meshfed-export-postgres"))


# --------------------------------------------------------------------------- the consumer's egress gateway

def test_an_http_binding_makes_the_egress_gateway_an_http_hop_that_sets_the_caller():
    imports = imports_of(build_model(seed(), settings()), "cluster1")
    name = "meshfed-import-default-details-cluster2-details"
    server, = spec(imports, "Gateway", name)["servers"]
    assert (server["port"]["protocol"], server["tls"]) == ("HTTPS", {"mode": "ISTIO_MUTUAL"})
    route, = spec(imports, "VirtualService", name)["http"]
    # set, which Istio renders as OVERWRITE_IF_EXISTS_OR_ADD: a client's value is replaced, never forwarded
    assert route["headers"]["request"]["set"] == {CALLER: "%DOWNSTREAM_PEER_URI_SAN%"}
    assert route["headers"]["request"]["remove"] == ["x-forwarded-for", "x-forwarded-client-cert",
                                                     "x-envoy-external-address"]
    assert route["rewrite"] == {"authority": "details.c2.example.com"}


def test_a_tcp_binding_stays_a_tcp_proxy():
    imports = imports_of(build_model(three_clusters(), settings()), "cluster2")
    name = "meshfed-import-apps-db-cluster3-postgres"
    assert spec(imports, "Gateway", name)["servers"][0]["port"]["protocol"] == "TLS"
    forward = spec(imports, "VirtualService", name)
    assert "http" not in forward and forward["tcp"][0]["match"] == [{"port": 443}]
    subset, = spec(imports, "DestinationRule", "meshfed-peer-cluster3")["subsets"]
    assert "connectionPool" not in subset["trafficPolicy"]  # the rule's keepalive applies


@pytest.mark.parametrize("keepalive, pool", [
    (None, {"http": {"useClientProtocol": True},
            "tcp": {"tcpKeepalive": {"time": "45s", "interval": "15s", "probes": 3}}}),
    (False, {"http": {"useClientProtocol": True}}),
])
def test_the_peer_subset_of_an_http_export_keeps_the_clients_protocol_and_the_keepalive(keepalive, pool):
    values = {} if keepalive is None else {"peer_tcp_keepalive": keepalive}
    rule = spec(imports_of(build_model(seed(), settings(**values)), "cluster1"), "DestinationRule",
                "meshfed-peer-cluster2")
    assert [s["trafficPolicy"]["connectionPool"] for s in rule["subsets"]] == [pool, pool]


# --------------------------------------------------------------------------- the link probe

def test_the_link_probe_of_a_grant_with_callers_claims_a_granted_caller_and_passes_the_exporters_policies():
    federation = build_model(two_consumers(["default/bookinfo-productpage"], ["shop/*"]), settings())
    deny, allow = details_policies(federation)
    callers = {}
    for cluster in ("cluster1", "cluster3"):
        (dummy, target), = [(link, t) for link, t in link_targets(federation, federation.clusters[cluster], {})
                            if link["export"] == "details"]
        callers[cluster] = target.caller
        assert allowed(deny, allow, federation.clusters[cluster].identity, target.caller), (cluster, target)
    assert callers == {"cluster1": PRODUCTPAGE, "cluster3": "spiffe://cluster.local/ns/shop/sa/meshfed-link-probe"}
    # a grant without callers: no header
    plain = build_model(two_consumers(), settings())
    assert {t.caller for dummy, t in link_targets(plain, plain.clusters["cluster1"], {})} == {None}


# --------------------------------------------------------------------------- validation

@pytest.mark.parametrize("callers, message", [
    ("shop/web", "callers 'shop/web' must be a non-empty list of <namespace>/<serviceaccount> or <namespace>/*"),
    ([], "callers [] must be a non-empty list"),
    (["shop"], "callers ['shop'] must be a non-empty list"),
    (["Shop/web"], "callers ['Shop/web'] must be a non-empty list"),
    (["shop/we b"], "callers ['shop/we b'] must be a non-empty list"),
    (["shop/*/x"], "callers ['shop/*/x'] must be a non-empty list"),
    (["*/web"], "callers ['*/web'] must be a non-empty list"),
    (["shop/web", "shop/web"], "duplicate caller in callers 'shop/web'"),
])
def test_bad_callers_name_the_cluster_the_export_and_the_consumer(callers, message):
    with pytest.raises(FederationModelError) as caught:
        build_model(two_consumers(callers), settings())
    errors = caught.value.errors
    assert len(errors) == 1 and errors[0].startswith(
        "cluster2: meshfed_exports[1] (details): consumers[0]: " + message), errors


def test_callers_on_a_tcp_export_are_an_error():
    clusters = three_clusters()
    clusters["cluster3"]["exports"][1]["consumers"] = [{"cluster": "cluster2", "callers": ["apps/db"]}]
    with pytest.raises(FederationModelError) as caught:
        build_model(clusters, settings())
    assert caught.value.errors == [
        "cluster3: meshfed_exports[1] (postgres): consumers[0]: callers apply to http exports only (this one is "
        "tcp: the caller travels in an HTTP header)"]


def test_a_bad_trust_domain_names_the_variable():
    with pytest.raises(FederationModelError) as caught:
        build_model(seed(), settings(trust_domain="Not A Domain"))
    assert caught.value.errors == [
        "settings: meshfed_trust_domain 'Not A Domain' must be a lowercase DNS name such as cluster.local (the mesh's "
        "meshConfig.trustDomain)"]


# --------------------------------------------------------------------------- the consumer's warning

def test_the_consumer_is_warned_when_its_import_namespace_has_no_caller_granted():
    federation = build_model(two_consumers(["default/bookinfo-productpage"], ["web/*"]), settings())
    assert ungranted_callers(federation, "cluster1") == []
    assert ungranted_callers(federation, "cluster3") == [
        "import shop/details: cluster2 grants export details to the callers web/* only, none in namespace shop: its "
        "requests to that source get 403 until the exporter grants one of its service accounts"]
    observed = Observed({"shop": {}}, None, None, {}, {})
    found = warnings(import_findings(federation, "cluster3", observed))
    assert [(f.setting, f.message) for f in found] == [("callers", ungranted_callers(federation, "cluster3")[0])]


# --------------------------------------------------------------------------- across parties

def org_a_with_callers(two, callers, trust_domain=None):
    """org-a granting ratings to org-b/cluster2's ``callers``, with org-b's bundle (of ``trust_domain``)."""
    clusters = copy.deepcopy(ORG_A)
    clusters["cluster1"]["exports"][0]["consumers"][0]["callers"] = callers
    body = body_of(two, "org-b", "org-a")
    if trust_domain:
        body["trust_domain"] = trust_domain
    return build_model(clusters, {"party": "org-a"}, [verified("org-b", body)])


def org_b_with(two, body):
    return build_model(copy.deepcopy(ORG_B), {"party": "org-b"}, [verified("org-a", body)])


def test_the_bundle_carries_the_callers_granted_and_the_issuers_trust_domain(two):
    parties, dummy, dummy = two
    org_a = org_a_with_callers(two, ["bookinfo/ratings-client"])
    body = parties["org-a"].body_for(org_a, "org-b")
    assert body["trust_domain"] == "cluster.local"
    consumer, = body["clusters"][0]["exports"][0]["consumers"]
    assert consumer == {"cluster": "cluster2", "methods": ["GET"], "paths": ["/ratings/*"],
                        "callers": ["bookinfo/ratings-client"]}
    # the consumer reads them: its import's namespace (bookinfo) is granted, no warning
    org_b = org_b_with(two, body)
    assert org_b.clusters["cluster2"].imports[0].sources
    grant, = org_b.peers["org-a"].clusters["org-a/cluster1"].exports[0].grants
    assert grant.callers == ("bookinfo/ratings-client",)
    assert ungranted_callers(org_b, "cluster2") == []


def test_the_consumer_party_is_warned_when_the_bundle_grants_no_caller_of_its_namespace(two):
    parties, dummy, dummy = two
    body = parties["org-a"].body_for(org_a_with_callers(two, ["shop/*"]), "org-b")
    assert ungranted_callers(org_b_with(two, body), "cluster2") == [
        "import bookinfo/ratings: org-a/cluster1 grants export ratings to the callers shop/* only, none in namespace "
        "bookinfo: its requests to that source get 403 until the exporter grants one of its service accounts"]


def test_a_bundle_without_callers_reads_as_before(two):
    parties, dummy, full = two
    body = parties["org-a"].body_for(full["org-a"], "org-b")
    assert "callers" not in body["clusters"][0]["exports"][0]["consumers"][0]


def test_the_exporter_matches_a_peer_consumers_callers_in_the_trust_domain_its_bundle_gives(two):
    org_a = org_a_with_callers(two, ["bookinfo/reviews"], trust_domain="b.example")
    allow = spec(render_exports(org_a, "cluster1"), "AuthorizationPolicy", "meshfed-export-ratings")
    assert allow["rules"][0]["when"][1] == {"key": "request.headers[x-meshfed-caller]",
                                            "values": ["spiffe://b.example/ns/bookinfo/sa/reviews"]}
    # a body without one: cluster.local, Istio's default
    allow = spec(render_exports(org_a_with_callers(two, ["bookinfo/reviews"]), "cluster1"), "AuthorizationPolicy",
                 "meshfed-export-ratings")
    assert allow["rules"][0]["when"][1]["values"] == ["spiffe://cluster.local/ns/bookinfo/sa/reviews"]


@pytest.mark.parametrize("change, message", [
    (lambda body: body.update(trust_domain="Bad Domain"),
     "peer org-a: bundle field body.trust_domain 'Bad Domain' is not a lowercase DNS name"),
    (lambda body: body["clusters"][0]["exports"][0]["consumers"][0].update(callers=["shop"]),
     "peer org-a: bundle field body.clusters[0].exports[0].consumers[0]: callers ['shop'] must be a non-empty list"),
])
def test_bad_callers_or_trust_domain_in_a_bundle_name_the_peer_and_the_field(two, change, message):
    parties, dummy, full = two
    body = parties["org-a"].body_for(full["org-a"], "org-b")
    change(body)
    with pytest.raises(FederationModelError) as caught:
        org_b_with(two, body)
    assert len(caught.value.errors) == 1 and caught.value.errors[0].startswith(message), caught.value.errors


def test_a_new_bundle_says_which_callers_and_trust_domain_changed(two):
    parties, dummy, full = two
    before = parties["org-a"].body_for(full["org-a"], "org-b")
    del before["trust_domain"]  # a bundle of a meshfed before the callers
    after = parties["org-a"].body_for(org_a_with_callers(two, ["bookinfo/ratings-client"]), "org-b")
    assert changes(before, after) == ["cluster1: export ratings consumer cluster2 callers any -> bookinfo/ratings-client"]
    assert changes(after, dict(after, trust_domain="a.example")) == ["trust domain cluster.local -> a.example"]
