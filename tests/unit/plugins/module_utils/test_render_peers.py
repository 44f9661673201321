# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendering across parties, each party from its own inventory and the bundles it was handed: the SNI host the
consumer dials is the one the exporter serves its party on, each server trusts one party's CA only (the Secret
carrying the CAs of that party's bundle), and the exporter's policy allows what was granted, no more."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

from ansible_collections.meshfed.federation.plugins.module_utils.module_backends import validated_model as handover
from ansible_collections.meshfed.federation.plugins.module_utils.observe.discovery import peer_addresses
from ansible_collections.meshfed.federation.plugins.module_utils.model.balance import legs
from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import leg_object_name
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import (
    BalanceInputs, LocalCopy, LocalSource, OUTLIER_DETECTION_DEFAULTS)
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import render_gateways
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_export import render_exports
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_import import render_imports

from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.parties import (
    module_fixture, three_parties, two_parties)
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.scenarios import (
    CREDENTIAL, seed, settings)
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.test_render import find

NS = "istio-private-gateways"

two = module_fixture(two_parties)
three = module_fixture(three_parties)


def imports_of(federation, cluster):
    return render_imports(federation, cluster, peer_addresses(federation, cluster, None))


def spec(objects, kind, name, namespace=NS):
    return find(objects, kind, name, namespace)["spec"]


def servers_by_host(federation, cluster, export):
    gateway = spec(render_exports(federation, cluster), "Gateway", "meshfed-export-" + export)
    return dict((server["hosts"][0][2:], server) for server in gateway["servers"])


def secret_data(objects, name):
    data = find(objects, "Secret", name, NS)["data"]
    return dict((key, base64.b64decode(value).decode("ascii")) for key, value in data.items())


# --------------------------------------------------------------------------- two parties end to end


def test_the_import_dials_the_sni_host_the_exporter_serves_the_consumer_party_on(two):
    dummy, dummy, full = two
    rule = spec(imports_of(full["org-a"], "cluster1"), "DestinationRule", "meshfed-peer-org-b-cluster2")
    subset, = rule["subsets"]
    assert subset["name"] == "reviews-v2"
    server = servers_by_host(full["org-b"], "cluster2", "reviews-v2")[subset["trafficPolicy"]["tls"]["sni"]]
    assert server["hosts"] == ["./reviews-v2.org-a.c2.example.com"]


def test_the_export_server_for_a_peer_party_uses_that_party_s_secret_and_trusts_only_its_granted_identities(two):
    dummy, dummy, full = two
    servers = servers_by_host(full["org-b"], "cluster2", "reviews-v2")
    assert list(servers) == ["reviews-v2.org-a.c2.example.com"]
    assert servers["reviews-v2.org-a.c2.example.com"]["tls"] == {
        "mode": "MUTUAL", "credentialName": "c2-example-com-org-a-certs", "subjectAltNames": ["c1.example.com"]}


def test_the_gateway_secret_for_a_peer_party_holds_the_cas_of_its_bundle_beside_our_own_certificate(two):
    parties, dummy, full = two
    objects = render_gateways(full["org-b"], "cluster2", CREDENTIAL)
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "Secret"] == [
        "c2-example-com-certs", "c2-example-com-org-a-certs"]
    peer_secret = secret_data(objects, "c2-example-com-org-a-certs")
    assert peer_secret["ca.crt"] == parties["org-a"].ca[0]
    assert (peer_secret["tls.crt"], peer_secret["tls.key"]) == (CREDENTIAL["cert"], CREDENTIAL["key"])
    assert find(objects, "Secret", "c2-example-com-org-a-certs")["type"] == "kubernetes.io/tls"
    assert secret_data(objects, "c2-example-com-certs")["ca.crt"] == CREDENTIAL["ca"]


def test_the_origination_to_a_peer_presents_the_credential_for_its_party_and_pins_its_identity(two):
    dummy, dummy, full = two
    rule = spec(imports_of(full["org-a"], "cluster1"), "DestinationRule", "meshfed-peer-org-b-cluster2")
    assert rule["host"] == "c2.example.com"
    assert rule["subsets"][0]["trafficPolicy"]["tls"] == {
        "mode": "MUTUAL", "credentialName": "c1-example-com-org-b-certs", "subjectAltNames": ["c2.example.com"],
        "sni": "reviews-v2.org-a.c2.example.com"}
    entry = spec(imports_of(full["org-a"], "cluster1"), "ServiceEntry", "meshfed-peer-org-b-cluster2")
    assert entry["endpoints"] == [{"address": "203.0.113.2"}]
    assert entry["ports"][0]["number"] == 15443


def test_the_local_alias_sets_the_authority_to_the_host_the_exporter_routes(two):
    dummy, dummy, full = two
    imports = imports_of(full["org-a"], "cluster1")
    alias = spec(imports, "VirtualService", "reviews", "bookinfo")
    route, = alias["http"][0]["route"]
    binding = "reviews-org-b-cluster2-reviews-v2.bookinfo.svc.cluster.local"
    assert route["headers"]["request"]["set"][":authority"] == binding
    forward = spec(imports, "VirtualService", "meshfed-import-bookinfo-reviews-org-b-cluster2-reviews-v2")
    assert forward["hosts"] == [binding]
    authority = forward["http"][0]["rewrite"]["authority"]
    assert authority == "reviews-v2.org-a.c2.example.com"
    assert spec(render_exports(full["org-b"], "cluster2"), "VirtualService", "meshfed-export-reviews-v2")[
        "hosts"] == [authority]


def test_the_policy_allows_the_peer_gateway_principal_on_its_sni_with_the_granted_methods_and_paths_only(two):
    dummy, dummy, full = two
    policy = spec(render_exports(full["org-a"], "cluster1"), "AuthorizationPolicy", "meshfed-export-ratings")
    assert (policy["action"], policy["selector"]) == ("ALLOW", {"matchLabels": {
        "istio": "private-ingressgateway", "meshfed.io/gateway-namespace": "istio-private-gateways"}})
    assert policy["rules"] == [{
        "from": [{"source": {"principals": ["c2.example.com/meshfed-gateway"]}}],
        "when": [{"key": "connection.sni", "values": ["ratings.org-b.c1.example.com"]}],
        "to": [{"operation": {"methods": ["GET"], "paths": ["/ratings/*"]}}]}]
    # the host the policy allows is the one org-b's import dials
    rule = spec(imports_of(full["org-b"], "cluster2"), "DestinationRule", "meshfed-peer-org-a-cluster1")
    assert rule["subsets"][0]["trafficPolicy"]["tls"]["sni"] == "ratings.org-b.c1.example.com"


def test_an_export_granted_only_to_a_pending_peer_renders_nothing_and_no_secret_for_that_peer(two):
    dummy, pending, dummy = two
    assert render_exports(pending["org-a"], "cluster1") == []
    # the import waits too: nothing for the egress gateway to carry, no trust in the pending party
    assert imports_of(pending["org-a"], "cluster1") == []
    secrets = [o["metadata"]["name"] for o in render_gateways(pending["org-a"], "cluster1", CREDENTIAL)
               if o["kind"] == "Secret"]
    assert secrets == ["c1-example-com-certs"]


def test_the_validated_federation_renders_the_same_after_the_handover_between_modules(two):
    dummy, dummy, full = two
    for party, cluster in (("org-a", "cluster1"), ("org-b", "cluster2")):
        federation = full[party]
        travelled = handover.read_federation(json.loads(json.dumps(handover.validated(federation))))[0]
        assert render_exports(travelled, cluster) == render_exports(federation, cluster)
        assert imports_of(travelled, cluster) == imports_of(federation, cluster)
        assert render_gateways(travelled, cluster, CREDENTIAL) == render_gateways(federation, cluster, CREDENTIAL)


# --------------------------------------------------------------------------- three parties


def test_one_server_per_consumer_party_each_with_its_own_host_secret_and_identities(three):
    dummy, dummy, full = three
    servers = servers_by_host(full["org-b"], "cluster2", "catalog")
    assert dict((host, (s["port"]["name"], s["tls"]["credentialName"], s["tls"]["subjectAltNames"]))
                for host, s in servers.items()) == {
        "catalog.c2.example.com": ("export-catalog", "c2-example-com-certs", ["c4.example.com"]),
        "catalog.org-a.c2.example.com": ("export-catalog-org-a", "c2-example-com-org-a-certs", ["c1.example.com"]),
        "catalog.org-c.c2.example.com": ("export-catalog-org-c", "c2-example-com-org-c-certs", ["c3.example.com"])}
    route = spec(render_exports(full["org-b"], "cluster2"), "VirtualService", "meshfed-export-catalog")
    assert route["hosts"] == sorted(servers)


def test_each_peer_party_s_secret_trusts_only_that_party_s_ca(three):
    parties, dummy, full = three
    objects = render_gateways(full["org-b"], "cluster2", CREDENTIAL)
    assert secret_data(objects, "c2-example-com-org-a-certs")["ca.crt"] == parties["org-a"].ca[0]
    assert secret_data(objects, "c2-example-com-org-c-certs")["ca.crt"] == parties["org-c"].ca[0]


def test_each_consumer_is_allowed_on_its_own_party_s_host_only(three):
    dummy, dummy, full = three
    policy = spec(render_exports(full["org-b"], "cluster2"), "AuthorizationPolicy", "meshfed-export-catalog")
    assert [(r["from"][0]["source"]["principals"], r["when"][0]["values"]) for r in policy["rules"]] == [
        (["c1.example.com/meshfed-gateway"], ["catalog.org-a.c2.example.com"]),
        (["c3.example.com/meshfed-gateway"], ["catalog.org-c.c2.example.com"]),
        (["c4.example.com/meshfed-gateway"], ["catalog.c2.example.com"])]
    assert not any("to" in rule for rule in policy["rules"])


def test_each_consumer_party_dials_its_own_host_and_the_own_party_consumer_the_plain_one(three):
    dummy, dummy, full = three
    for party, cluster in (("org-a", "cluster1"), ("org-c", "cluster3")):
        rule = spec(imports_of(full[party], cluster), "DestinationRule", "meshfed-peer-org-b-cluster2")
        assert rule["subsets"][0]["trafficPolicy"]["tls"]["sni"] == "catalog.%s.c2.example.com" % party
    own = spec(imports_of(full["org-b"], "cluster4"), "DestinationRule", "meshfed-peer-cluster2")
    assert own["subsets"][0]["trafficPolicy"]["tls"]["sni"] == "catalog.c2.example.com"
    assert own["subsets"][0]["trafficPolicy"]["tls"]["credentialName"] == "c4-example-com-certs"


def test_while_one_peer_is_pending_only_the_others_are_served(three):
    parties, dummy, full = three
    with_c_pending = parties["org-b"].model([
        {"name": "org-a", "where": "meshfed_peers[0] (org-a)", "bundle": full["org-b"].peers["org-a"].bundle,
         "signer": parties["org-a"].fingerprint},
        {"name": "org-c", "where": "meshfed_peers[1] (org-c)", "bundle": None, "signer": None}])
    assert sorted(servers_by_host(with_c_pending, "cluster2", "catalog")) == [
        "catalog.c2.example.com", "catalog.org-a.c2.example.com"]
    assert with_c_pending.skipped == ("cluster2: export catalog is not served to org-c until their peering bundle is "
                                      "in place",)


# --------------------------------------------------------------------------- one party


def test_a_single_party_inventory_serves_export_dot_identity_with_its_own_secret_as_before():
    federation = build_model(seed(), settings())
    servers = servers_by_host(federation, "cluster2", "reviews-v2")
    assert list(servers) == ["reviews-v2.c2.example.com"]
    assert servers["reviews-v2.c2.example.com"]["tls"]["credentialName"] == "c2-example-com-certs"
    alias = spec(imports_of(federation, "cluster1"), "VirtualService", "reviews", "default")
    forward = spec(imports_of(federation, "cluster1"), "VirtualService", "meshfed-import-default-reviews-cluster2-reviews-v2")
    assert forward["http"][0]["rewrite"] == {"authority": "reviews-v2.c2.example.com"}
    assert [o["metadata"]["name"] for o in render_gateways(federation, "cluster2", CREDENTIAL)
            if o["kind"] == "Secret"] == ["c2-example-com-certs"]


def test_a_failover_leg_to_a_peer_party_keeps_its_sni_authority_and_pinned_identity(two):
    """org-a's reviews as a failover import (local copy first, then org-b's cluster2): the leg on the egress
    gateway forwards to org-b's server for org-a (its grant host as authority), through the same origination, with
    org-a's credential for org-b and org-b's identity pinned, as the split import's binding does."""
    dummy, dummy, full = two
    federation = full["org-a"]
    cluster = federation.clusters["cluster1"]
    reviews = cluster.imports[0]._replace(local=LocalSource(None, None), mode="failover",
                                          outlier_detection=OUTLIER_DETECTION_DEFAULTS)
    federation = federation._replace(clusters=dict(federation.clusters, cluster1=cluster._replace(imports=(reviews,))))
    inputs = BalanceInputs("10.96.0.10", {("bookinfo", "reviews"): LocalCopy({"app": "reviews"}, 9080)})
    objects = render_imports(federation, "cluster1", peer_addresses(federation, "cluster1", None), inputs)
    (leg,) = legs(federation.clusters["cluster1"])
    entry = spec(objects, "ServiceEntry", "meshfed-balance-reviews-sources", "bookinfo")
    assert entry["endpoints"] == [{"address": "10.96.0.10", "ports": {"http-reviews": leg.port},
                                   "labels": {"leg.meshfed.io/org-b-cluster2": "true", "meshfed.io/source-leg": "true"}}]
    rule = spec(objects, "DestinationRule", "meshfed-balance-reviews-local", "bookinfo")
    assert rule["trafficPolicy"]["loadBalancer"]["localityLbSetting"]["failoverPriority"] == [
        "leg.meshfed.io/org-b-cluster2="]
    forward = spec(objects, "VirtualService", leg_object_name(reviews, reviews.sources[0]))
    (http,) = forward["http"]
    assert http["rewrite"] == {"authority": "reviews-v2.org-a.c2.example.com"}
    assert http["route"] == [{"destination": {"host": "c2.example.com", "port": {"number": 15443},
                                              "subset": "reviews-v2"}}]
    origination = spec(objects, "DestinationRule", "meshfed-peer-org-b-cluster2")
    assert origination["subsets"][0]["trafficPolicy"]["tls"]["credentialName"] == "c1-example-com-org-b-certs"
    assert origination["subsets"][0]["trafficPolicy"]["tls"]["subjectAltNames"] == ["c2.example.com"]
