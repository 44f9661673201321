# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A CA per cluster in one inventory (meshfed_ca_scope: cluster): every cluster is a party of its own, so the
same per-party servers, Secrets and trust as across organizations, with the CAs from the PKI directory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.observe.discovery import peer_addresses
from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import FederationModelError
from ansible_collections.meshfed.federation.plugins.module_utils.pki.directory import credential_paths
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import render_gateways
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_export import render_exports
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_import import render_imports
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.scenarios import seed, settings

CREDENTIAL = {"cert": "CERT1", "key": "KEY1", "ca": "CA-OWN", "party_cas": {"cluster1": "CA-1", "cluster2": "CA-2"}}


def per_cluster():
    return build_model(seed(), settings(federation_name="demo", ca_scope="cluster"))


def find(objects, kind, name):
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, [o["metadata"]["name"] for o in objects if o["kind"] == kind])
    return found[0]


def test_each_cluster_is_its_own_party_and_hosts_name_the_consumer_cluster():
    federation = per_cluster()
    assert {c.name: c.party for c in federation.clusters.values()} == {"cluster1": "cluster1", "cluster2": "cluster2"}
    export = [e for e in federation.clusters["cluster2"].exports if e.name == "reviews-v2"][0]
    assert [(g.consumer, g.party, g.host) for g in export.grants] == [
        ("cluster1", "cluster1", "reviews-v2.cluster1.c2.example.com")]


def test_the_exporter_trusts_only_the_consumer_clusters_ca_on_its_server():
    federation = per_cluster()
    gateway = find(render_exports(federation, "cluster2"), "Gateway", "meshfed-export-reviews-v2")
    (server,) = gateway["spec"]["servers"]
    assert server["hosts"] == ["./reviews-v2.cluster1.c2.example.com"]
    assert server["tls"]["credentialName"] == "c2-example-com-cluster1-certs"
    assert server["tls"]["subjectAltNames"] == ["c1.example.com"]
    secrets = dict((o["metadata"]["name"], o) for o in render_gateways(federation, "cluster2", CREDENTIAL)
                   if o["kind"] == "Secret")
    assert sorted(secrets) == ["c2-example-com-certs", "c2-example-com-cluster1-certs"]
    import base64
    ca_of = dict((name, base64.b64decode(s["data"]["ca.crt"]).decode()) for name, s in secrets.items())
    assert ca_of == {"c2-example-com-certs": "CA-OWN", "c2-example-com-cluster1-certs": "CA-1"}


def test_the_consumer_dials_its_host_trusting_only_the_exporter_clusters_ca():
    federation = per_cluster()
    discovered = {"cluster2": {"address": "203.0.113.10", "port": 15443}}
    objects = render_imports(federation, "cluster1", peer_addresses(federation, "cluster1", discovered))
    rule = find(objects, "DestinationRule", "meshfed-peer-cluster2")
    subsets = dict((s["name"], s["trafficPolicy"]["tls"]) for s in rule["spec"]["subsets"])
    assert subsets["reviews-v2"]["sni"] == "reviews-v2.cluster1.c2.example.com"
    assert subsets["reviews-v2"]["credentialName"] == "c1-example-com-cluster2-certs"
    route = find(objects, "VirtualService", "reviews")
    remote = [r for r in route["spec"]["http"][0]["route"] if "headers" in r][0]
    assert remote["headers"]["request"]["set"][":authority"] == "reviews-cluster2-reviews-v2.default.svc.cluster.local"
    forward = find(objects, "VirtualService", "meshfed-import-default-reviews-cluster2-reviews-v2")
    assert forward["spec"]["http"][0]["rewrite"] == {"authority": "reviews-v2.cluster1.c2.example.com"}


def test_the_pki_layout_gives_each_cluster_its_directory_and_the_other_cas():
    assert credential_paths("/pki", "cluster1", ["cluster1", "cluster2"], "cluster") == {
        "cert_path": "/pki/cluster1/cluster1.crt", "key_path": "/pki/cluster1/cluster1.key",
        "ca_path": "/pki/cluster1/trusted-cas.pem", "party_ca_paths": {"cluster2": "/pki/cluster2/trusted-cas.pem"}}
    assert credential_paths("/pki", "cluster1", ["cluster1", "cluster2"], "federation") == {
        "cert_path": "/pki/cluster1.crt", "key_path": "/pki/cluster1.key", "ca_path": "/pki/trusted-cas.pem",
        "party_ca_paths": {}}


def test_peers_need_one_party_per_inventory_and_the_scope_is_checked():
    with pytest.raises(FederationModelError) as caught:
        build_model(seed(), settings(ca_scope="cluster"), [{"name": "org-b", "where": "meshfed_peers[0] (org-b)",
                                                            "bundle": None, "signer": None}])
    assert any("meshfed_peers[0] (org-b): peers need meshfed_ca_scope: federation" in e for e in caught.value.errors)
    with pytest.raises(FederationModelError) as caught:
        build_model(seed(), settings(ca_scope="per-cluster"))
    assert caught.value.errors == ["settings: meshfed_ca_scope 'per-cluster' must be one of federation, cluster"]
