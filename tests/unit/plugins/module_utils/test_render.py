# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendering: golden files for the seed and the three-cluster scenario, plus the properties users rely on.

Regenerate the golden files after an intended change with MESHFED_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import pytest
import yaml

from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.observe.discovery import peer_addresses
from ansible_collections.meshfed.federation.plugins.module_utils.kube.labels import owner_selector
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import (
    render_gateways)
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_export import render_exports
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_import import (
    host_claims, render_imports)
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.scenarios import (
    CREDENTIAL, seed, settings, three_clusters)

GOLDEN_DIR = os.path.join(os.path.dirname(__file__), "golden")
SCENARIOS = {"seed": seed, "three-clusters": three_clusters}


def imports_of(federation, cluster, discovered=None):
    return render_imports(federation, cluster, peer_addresses(federation, cluster, discovered))


def render_role(federation, cluster, role):
    if role == "gateway":
        return render_gateways(federation, cluster, CREDENTIAL)
    if role == "export":
        return render_exports(federation, cluster)
    return imports_of(federation, cluster)


def served(server):
    """The SNI hosts of a Gateway server; each one admits VirtualServices of the Gateway's own namespace only."""
    assert all(h.startswith("./") for h in server["hosts"]), server["hosts"]
    return [h[2:] for h in server["hosts"]]


def find(objects, kind, name, namespace=None):
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name
               and (namespace is None or o["metadata"].get("namespace") == namespace)]
    assert len(matches) == 1, "%s %s/%s: %d matches" % (kind, namespace, name, len(matches))
    return matches[0]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_golden(scenario):
    federation = build_model(SCENARIOS[scenario](), settings(federation_name="demo"))
    for cluster in sorted(federation.clusters):
        for role in ("gateway", "export", "import"):
            rendered = render_role(federation, cluster, role)
            path = os.path.join(GOLDEN_DIR, scenario, "%s-%s.yaml" % (cluster, role))
            if os.environ.get("MESHFED_UPDATE_GOLDEN"):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as out:
                    out.write("---\n")
                    yaml.safe_dump(rendered, out, sort_keys=False)
            with open(path) as golden:
                assert rendered == yaml.safe_load(golden), path


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_object_carries_the_ownership_labels_of_its_role(scenario):
    federation = build_model(SCENARIOS[scenario](), settings(federation_name="demo"))
    for cluster in federation.clusters:
        for role in ("gateway", "export", "import"):
            for obj in render_role(federation, cluster, role):
                labels = obj["metadata"]["labels"]
                assert owner_selector("demo", role).items() <= labels.items(), obj["metadata"]
                assert all(len(v) <= 63 for v in labels.values())


def test_seed_cluster2_exports_only_to_the_granted_consumer_by_sni():
    federation = build_model(seed(), settings())
    exports = render_exports(federation, "cluster2")
    gateway = find(exports, "Gateway", "meshfed-export-reviews-v2", "istio-private-gateways")
    server, = gateway["spec"]["servers"]
    assert served(server) == ["reviews-v2.c2.example.com"]
    assert server["port"] == {"number": 15443, "name": "export-reviews-v2", "protocol": "HTTPS"}
    assert server["tls"] == {"mode": "MUTUAL", "credentialName": "c2-example-com-certs",
                             "subjectAltNames": ["c1.example.com"]}
    route = find(exports, "VirtualService", "meshfed-export-reviews-v2")["spec"]
    assert route["hosts"] == ["reviews-v2.c2.example.com"] and route["gateways"] == ["meshfed-export-reviews-v2"]
    unsafe, http = route["http"]
    assert unsafe["name"] == "meshfed:unsafe-path" and unsafe["directResponse"]["status"] == 400
    assert http["match"] == [{"uri": {"prefix": "/"}}]
    assert http["rewrite"] == {"authority": "myreviews.bookinfo.svc.cluster.local"}
    assert http["route"] == [{"destination": {"host": "myreviews.bookinfo.svc.cluster.local", "subset": "v2",
                                              "port": {"number": 9080}}}]
    local_rule = find(exports, "DestinationRule", "meshfed-local-bookinfo-myreviews")["spec"]
    assert local_rule["exportTo"] == ["."]
    # the gateway speaks the consumer's HTTP version to the service (h2 and gRPC stay h2)
    assert local_rule["trafficPolicy"] == {"tls": {"mode": "ISTIO_MUTUAL"},
                                           "connectionPool": {"http": {"useClientProtocol": True}}}
    assert local_rule["subsets"] == [{"name": "v2", "labels": {"version": "v2"}}]


def test_seed_cluster1_splits_reviews_between_local_v1_and_remote_v2():
    federation = build_model(seed(), settings())
    imports = imports_of(federation, "cluster1")
    alias = find(imports, "VirtualService", "reviews", "default")["spec"]
    assert alias["hosts"] == ["reviews.default.svc.cluster.local"]
    http, = alias["http"]
    local, remote = http["route"]
    assert local == {"destination": {"host": "reviews.default.svc.cluster.local", "subset": "v1",
                                     "port": {"number": 9080}}, "weight": 50}
    assert remote["weight"] == 50
    assert remote["destination"]["host"] == "istio-private-egressgateway.istio-private-gateways.svc.cluster.local"
    # the authority of the egress gateway's virtual host for the binding (its SNI too), rewritten there to the grant host
    assert remote["headers"] == {"request": {"set": {":authority": "reviews-cluster2-reviews-v2.default.svc.cluster.local"}}}
    assert http["timeout"] == "5s"
    assert http["retries"] == {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx,connect-failure"}
    # the local copy exists: no DNS Service of ours in its way, only the subset rule
    assert not [o for o in imports if o["kind"] == "Service" and o["metadata"]["name"] == "reviews"]
    assert find(imports, "DestinationRule", "reviews", "default")["spec"]["subsets"] == [
        {"name": "v1", "labels": {"version": "v1"}}]
    # details has no local copy: a selectorless Service gives it a DNS name
    details_service = find(imports, "Service", "details", "default")["spec"]
    assert "selector" not in details_service
    assert details_service["ports"] == [{"name": "http-details", "port": 9080, "protocol": "TCP", "targetPort": 9080}]


def test_seed_import_chain_is_consistent_hop_by_hop():
    federation = build_model(seed(), settings())
    imports = imports_of(federation, "cluster1")
    exports = render_exports(federation, "cluster2")
    egress_rule = find(imports, "DestinationRule", "meshfed-egress-gateway", "istio-private-gateways")["spec"]
    alias = find(imports, "VirtualService", "reviews", "default")["spec"]
    remote = alias["http"][0]["route"][1]["destination"]
    subset = next(s for s in egress_rule["subsets"] if s["name"] == remote["subset"])
    tls = subset["trafficPolicy"]["portLevelSettings"][0]["tls"]
    assert tls["mode"] == "ISTIO_MUTUAL"
    # hop 1: the SNI the sidecar sends selects the binding's egress Gateway server
    egress_gateway = find(imports, "Gateway", "meshfed-import-default-reviews-cluster2-reviews-v2")["spec"]
    # our egress gateway's pods, in our gateway namespace only (Istio applies a selector to every namespace's)
    assert egress_gateway["selector"] == {"istio": "private-egressgateway",
                                          "meshfed.io/gateway-namespace": "istio-private-gateways"}
    egress_pods = find(render_gateways(federation, "cluster1", CREDENTIAL), "Deployment",
                       "istio-private-egressgateway")["spec"]["template"]["metadata"]["labels"]
    assert all(egress_pods.get(k) == v for k, v in egress_gateway["selector"].items()), egress_pods
    assert served(egress_gateway["servers"][0]) == [tls["sni"]]
    assert egress_gateway["servers"][0]["tls"] == {"mode": "ISTIO_MUTUAL"}
    # hop 2: the egress VirtualService forwards to the peer's identity through the export's subset
    forward = find(imports, "VirtualService", "meshfed-import-default-reviews-cluster2-reviews-v2")["spec"]
    assert forward["hosts"] == [tls["sni"]]
    # an http binding: the egress gateway is an HTTP hop (its server HTTPS, the sidecar's authority its host)
    assert egress_gateway["servers"][0]["port"]["protocol"] == "HTTPS"
    assert remote_authority(alias) == tls["sni"]
    route, = forward["http"]
    assert route["route"] == [{"destination": {"host": "c2.example.com", "subset": "reviews-v2",
                                               "port": {"number": 15443}}}]
    entry = find(imports, "ServiceEntry", "meshfed-peer-cluster2")["spec"]
    assert entry["hosts"] == ["c2.example.com"] and entry["resolution"] == "STATIC"
    assert entry["endpoints"] == [{"address": "127.0.0.1"}] and entry["ports"][0]["number"] == 15443
    # hop 3: mutual TLS with cluster1's certificate, SNI = the export's server host on cluster2,
    # and the peer's identity pinned
    peer_rule = find(imports, "DestinationRule", "meshfed-peer-cluster2")["spec"]
    origination = next(s for s in peer_rule["subsets"] if s["name"] == "reviews-v2")["trafficPolicy"]["tls"]
    export_server = find(exports, "Gateway", "meshfed-export-reviews-v2")["spec"]["servers"][0]
    assert origination == {"mode": "MUTUAL", "credentialName": "c1-example-com-certs",
                           "subjectAltNames": ["c2.example.com"], "sni": served(export_server)[0]}
    assert "c1.example.com" in export_server["tls"]["subjectAltNames"]
    # ... and the authority the egress gateway sends is that host too, which the export's route serves
    assert route["rewrite"] == {"authority": served(export_server)[0]}
    assert find(exports, "VirtualService", "meshfed-export-reviews-v2")["spec"]["hosts"] == served(export_server)


def remote_authority(alias):
    """The authority the importing sidecar sends to the egress gateway (the alias's remote destination)."""
    remote, = [r for r in alias["http"][0]["route"] if "headers" in r]
    return remote["headers"]["request"]["set"][":authority"]


def test_one_local_name_from_two_peers():
    federation = build_model(three_clusters(), settings())
    imports = imports_of(federation, "cluster1")
    routes = find(imports, "VirtualService", "hw", "default")["spec"]["http"][0]["route"]
    assert [(r["weight"], r["headers"]["request"]["set"][":authority"]) for r in routes] == [
        (50, "hw-cluster2-helloworld.default.svc.cluster.local"), (50, "hw-cluster3-helloworld.default.svc.cluster.local")]
    # each binding's egress route sends its own peer's grant host
    assert [find(imports, "VirtualService", "meshfed-import-default-hw-%s-helloworld" % c)["spec"]["http"][0]["rewrite"]
            for c in ("cluster2", "cluster3")] == [{"authority": "helloworld.c2.example.com"},
                                                   {"authority": "helloworld.c3.example.com"}]
    assert len({r["destination"]["subset"] for r in routes}) == 2
    entries = {o["metadata"]["name"]: o["spec"] for o in imports if o["kind"] == "ServiceEntry"}
    assert entries["meshfed-peer-cluster2"]["resolution"] == "DNS"
    assert entries["meshfed-peer-cluster2"]["endpoints"] == [{"address": "gw.c2.example.com"}]
    assert entries["meshfed-peer-cluster3"]["endpoints"] == [{"address": "127.0.0.3"}]


def test_tcp_export_and_import_route_by_sni_not_path():
    federation = build_model(three_clusters(), settings())
    exports = render_exports(federation, "cluster3")
    server = find(exports, "Gateway", "meshfed-export-postgres")["spec"]["servers"][0]
    assert server["port"]["protocol"] == "TLS" and served(server) == ["postgres.c3.example.com"]
    assert server["tls"]["subjectAltNames"] == ["c2.example.com"]
    route = find(exports, "VirtualService", "meshfed-export-postgres")["spec"]
    assert "http" not in route
    assert route["tcp"] == [{"match": [{"port": 15443}], "route": [
        {"destination": {"host": "pg.data.svc.cluster.local", "port": {"number": 5432}}}]}]
    imports = imports_of(federation, "cluster2")
    alias = find(imports, "VirtualService", "db", "apps")["spec"]
    assert alias["tcp"][0]["match"] == [{"port": 5432}] and "headers" not in alias["tcp"][0]["route"][0]


def test_http_path_prefix_and_rewrite():
    clusters = three_clusters()
    clusters["cluster2"]["exports"][0]["rewrite_prefix"] = "/"
    exports = render_exports(build_model(clusters, settings()), "cluster2")
    http = find(exports, "VirtualService", "meshfed-export-helloworld")["spec"]["http"][1]
    assert http["match"] == [{"uri": {"prefix": "/hello"}}]
    assert http["rewrite"] == {"authority": "helloworld.sample.svc.cluster.local", "uri": "/"}


def test_file_mounted_certificates_and_v1beta1():
    federation = build_model(seed(), settings(cert_delivery="file", istio_api_version="networking.istio.io/v1beta1"))
    gateways = render_gateways(federation, "cluster2", CREDENTIAL)
    deployment = find(gateways, "Deployment", "istio-private-ingressgateway")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "federation-credential", "secret": {"secretName": "c2-example-com-certs"}}]
    assert pod["containers"][0]["volumeMounts"][0]["mountPath"] == "/etc/istio/c2.example.com/certs"
    server_tls = find(render_exports(federation, "cluster2"), "Gateway", "meshfed-export-reviews-v2")["spec"]["servers"][0]["tls"]
    assert server_tls["serverCertificate"] == "/etc/istio/c2.example.com/certs/tls.crt"
    assert server_tls["caCertificates"] == "/etc/istio/c2.example.com/certs/ca.crt"
    assert "credentialName" not in server_tls
    origination = find(imports_of(federation, "cluster1"), "DestinationRule", "meshfed-peer-cluster2")
    assert origination["apiVersion"] == "networking.istio.io/v1beta1"
    assert origination["spec"]["trafficPolicy"]["tls"]["clientCertificate"] == "/etc/istio/c1.example.com/certs/tls.crt"


def test_gateways_follow_the_seed_topology():
    federation = build_model(seed(), settings())
    exporter = render_gateways(federation, "cluster2", CREDENTIAL)
    consumer = render_gateways(federation, "cluster1", CREDENTIAL)
    assert [o for o in exporter if o["kind"] == "Deployment"][0]["metadata"]["name"] == "istio-private-ingressgateway"
    assert [o for o in consumer if o["kind"] == "Deployment"][0]["metadata"]["name"] == "istio-private-egressgateway"
    ingress = find(exporter, "Service", "istio-private-ingressgateway")["spec"]
    egress = find(consumer, "Service", "istio-private-egressgateway")["spec"]
    assert ingress["type"] == "LoadBalancer" and ingress["ports"][0]["port"] == 15443
    assert egress["type"] == "ClusterIP" and egress["ports"][0]["port"] == 443
    hpa = find(exporter, "HorizontalPodAutoscaler", "istio-private-ingressgateway")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 5)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 80
    template = find(exporter, "Deployment", "istio-private-ingressgateway")["spec"]["template"]
    assert template["metadata"]["annotations"] == {"inject.istio.io/templates": "gateway"}
    assert template["metadata"]["labels"]["sidecar.istio.io/inject"] == "true"
    # istiod authorizes credentialName with a SubjectAccessReview for "list secrets" in the namespace, no name
    role = find(exporter, "Role", "istio-private-ingressgateway-sds")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "watch", "list"]}]
    secret = find(exporter, "Secret", "c2-example-com-certs")
    assert secret["type"] == "kubernetes.io/tls" and sorted(secret["data"]) == ["ca.crt", "tls.crt", "tls.key"]
    # with the autoscaler at one pod, minAvailable 1 would block node drains
    pdb = find(exporter, "PodDisruptionBudget", "istio-private-ingressgateway")["spec"]
    assert pdb["maxUnavailable"] == 1 and "minAvailable" not in pdb
    # a cluster that neither exports nor imports gets no gateway at all
    clusters = seed()
    clusters["cluster3"] = {"identity": "c3.example.com"}
    assert render_gateways(build_model(clusters, settings()), "cluster3", CREDENTIAL) == []


def test_the_local_copy_subset_rule_leaves_tls_to_istio_auto_mtls():
    rule = find(imports_of(build_model(seed(), settings()), "cluster1"), "DestinationRule", "reviews", "default")
    assert rule["spec"] == {"host": "reviews.default.svc.cluster.local", "exportTo": ["."],
                            "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}


def test_only_the_importing_namespace_may_use_a_binding_on_the_egress_gateway():
    imports = imports_of(build_model(seed(), settings()), "cluster1")
    name = "meshfed-import-default-reviews-cluster2-reviews-v2"
    policy = find(imports, "AuthorizationPolicy", name, "istio-private-gateways")
    gateway = find(imports, "Gateway", name, "istio-private-gateways")["spec"]
    assert policy["apiVersion"] == "security.istio.io/v1"
    # one meaning per label: the import's local name, and the binding's id
    assert policy["metadata"]["labels"]["meshfed.io/import"] == "reviews"
    assert policy["metadata"]["labels"]["meshfed.io/binding"] == "reviews-cluster2-reviews-v2"
    alias = find(imports, "VirtualService", "reviews", "default")
    assert alias["metadata"]["labels"]["meshfed.io/import"] == "reviews"
    assert "meshfed.io/binding" not in alias["metadata"]["labels"]
    assert policy["spec"]["selector"] == {"matchLabels": gateway["selector"]}
    assert policy["spec"]["action"] == "ALLOW"
    assert policy["spec"]["rules"] == [{"from": [{"source": {"namespaces": ["default"]}}],
                                        "when": [{"key": "connection.sni", "values": served(gateway["servers"][0])}]}]
    # one ALLOW per binding: ALLOW policies add up, whatever matches none of them is refused; and one DENY per
    # binding, which an ALLOW of someone else's cannot override
    assert sorted(o["spec"]["action"] for o in imports if o["kind"] == "AuthorizationPolicy") == [
        "ALLOW", "ALLOW", "DENY", "DENY"]
    older = imports_of(build_model(seed(), settings(istio_api_version="networking.istio.io/v1beta1")), "cluster1")
    assert find(older, "AuthorizationPolicy", name)["apiVersion"] == "security.istio.io/v1beta1"


def test_the_egress_rule_is_exported_to_the_importing_namespaces_and_keeps_http2_for_http_bindings():
    clusters = three_clusters()
    clusters["cluster2"]["imports"].append({"name": "hw", "namespace": "istio-private-gateways", "port": 5000,
                                            "from": [{"cluster": "cluster3", "export": "helloworld"}]})
    clusters["cluster3"]["exports"][0]["consumers"].append("cluster2")
    rule = find(imports_of(build_model(clusters, settings()), "cluster2"), "DestinationRule",
                "meshfed-egress-gateway")["spec"]
    # its own namespace as "." (some Istio releases made a rule naming its own namespace private)
    assert rule["exportTo"] == [".", "apps"]
    ports = dict((s["name"], s["trafficPolicy"]["portLevelSettings"]) for s in rule["subsets"])
    db, hw = ports["apps-db-cluster3-postgres"], ports["istio-private-gateways-hw-cluster3-helloworld"]
    assert "connectionPool" not in db[0]
    # beside the port's tls: a port-level policy replaces the subset's connection pool
    assert hw == [{"port": {"number": 443}, "connectionPool": {"http": {"useClientProtocol": True}},
                   "tls": {"mode": "ISTIO_MUTUAL", "sni": "hw-cluster3-helloworld.istio-private-gateways.svc.cluster.local"}}]


def test_only_http_exports_keep_the_client_protocol_to_the_local_service():
    exports = render_exports(build_model(three_clusters(), settings()), "cluster3")
    assert "connectionPool" not in find(exports, "DestinationRule", "meshfed-local-data-pg")["spec"]["trafficPolicy"]
    assert find(exports, "DestinationRule", "meshfed-local-sample-helloworld")["spec"]["trafficPolicy"][
        "connectionPool"] == {"http": {"useClientProtocol": True}}


def test_a_revision_selects_the_revisioned_injector_and_keeps_the_deployment_selector():
    def template_and_selector(values):
        deployment = find(render_gateways(build_model(seed(), settings(**values)), "cluster2", CREDENTIAL),
                          "Deployment", "istio-private-ingressgateway")["spec"]
        return deployment["template"]["metadata"]["labels"], deployment["selector"]

    default_labels, default_selector = template_and_selector({})
    revision_labels, revision_selector = template_and_selector({"istio_revision": "1-28"})
    assert default_labels["sidecar.istio.io/inject"] == "true" and "istio.io/rev" not in default_labels
    assert revision_labels["istio.io/rev"] == "1-28" and "sidecar.istio.io/inject" not in revision_labels
    # the selector is immutable: the labels a revision changes are not in it
    assert default_selector == revision_selector == {
        "matchLabels": {"istio": "private-ingressgateway", "app": "istio-private-ingressgateway"}}


def test_the_hosts_the_seed_imports_stand_for():
    claims = host_claims(build_model(seed(), settings()), "cluster1")
    assert [(c.namespace, c.kind, c.host, c.wildcards, c.imports, c.what) for c in claims] == [
        ("default", "VirtualService", "reviews.default.svc.cluster.local", False, ("default/reviews",), "the local name"),
        # the local copy's subset rule is ours: Istio would merge someone else's for the same host into it
        ("default", "DestinationRule", "reviews.default.svc.cluster.local", False, ("default/reviews",),
         "the local name"),
        ("default", "VirtualService", "details.default.svc.cluster.local", False, ("default/details",), "the local name"),
        # details has no local copy: the name is ours (a Service without pods)
        ("default", "DestinationRule", "details.default.svc.cluster.local", False, ("default/details",),
         "the local name"),
        # a rule in the client's namespace wins over the exported egress rule, a wildcard one too
        ("default", "DestinationRule", "istio-private-egressgateway.istio-private-gateways.svc.cluster.local", True,
         ("default/reviews", "default/details"), "the egress gateway"),
    ]
    clusters = seed()
    del clusters["cluster1"]["imports"][0]["local"]["subset"]
    # a local copy without subset: a rule of the user's for it configures the local copy, as it should
    assert [c.kind for c in host_claims(build_model(clusters, settings()), "cluster1")
            if c.host == "reviews.default.svc.cluster.local"] == ["VirtualService"]


def test_every_gateway_server_admits_virtual_services_of_the_gateway_namespace_only():
    for scenario in sorted(SCENARIOS):
        federation = build_model(SCENARIOS[scenario](), settings())
        for cluster in federation.clusters:
            for obj in render_exports(federation, cluster) + imports_of(federation, cluster):
                if obj["kind"] == "Gateway":
                    for server in obj["spec"]["servers"]:
                        assert served(server), obj["metadata"]["name"]


def test_the_import_is_seen_from_the_importing_namespace_only():
    imports = imports_of(build_model(seed(), settings()), "cluster1")
    for kind, name in (("VirtualService", "reviews"), ("DestinationRule", "reviews"), ("VirtualService", "details")):
        assert find(imports, kind, name, "default")["spec"]["exportTo"] == ["."], (kind, name)
    # the DNS Service of an import without a local copy is visible everywhere: elsewhere it has no endpoints (a 503
    # from the caller's own sidecar), where a hidden host would leave the caller's traffic to the passthrough cluster
    service = find(imports, "Service", "details", "default")
    assert service["metadata"]["annotations"] == {"networking.istio.io/exportTo": "*"}


def test_the_binding_is_denied_to_every_other_namespace_whatever_else_allows():
    imports = imports_of(build_model(seed(), settings()), "cluster1")
    name = "meshfed-import-default-reviews-cluster2-reviews-v2"
    gateway = find(imports, "Gateway", name, "istio-private-gateways")["spec"]
    deny = find(imports, "AuthorizationPolicy", "meshfed-deny-binding-default-reviews-cluster2-reviews-v2")
    assert deny["spec"]["action"] == "DENY"
    assert deny["spec"]["selector"] == {"matchLabels": gateway["selector"]}
    assert deny["spec"]["rules"] == [{"from": [{"source": {"notNamespaces": ["default"]}}],
                                      "when": [{"key": "connection.sni", "values": served(gateway["servers"][0])}]}]
    assert deny["metadata"]["labels"]["meshfed.io/binding"] == "reviews-cluster2-reviews-v2"


def test_an_export_denies_every_principal_and_request_its_grants_do_not_name():
    clusters = seed()
    clusters["cluster2"]["exports"][1]["consumers"] = [
        {"cluster": "cluster1", "methods": ["GET"], "paths": ["/details/*"]}]
    exports = render_exports(build_model(clusters, settings()), "cluster2")
    deny = find(exports, "AuthorizationPolicy", "meshfed-deny-export-details")["spec"]
    assert deny["action"] == "DENY"
    sni = [{"key": "connection.sni", "values": ["details.c2.example.com"]}]
    assert deny["rules"] == [
        {"from": [{"source": {"notPrincipals": ["c1.example.com/meshfed-gateway"]}}], "when": sni},
        {"from": [{"source": {"principals": ["c1.example.com/meshfed-gateway"]}}],
         "to": [{"operation": {"notMethods": ["GET"]}}, {"operation": {"notPaths": ["/details/*"]}}], "when": sni}]
    # an export granted without restrictions denies only the principals it does not name
    reviews = find(exports, "AuthorizationPolicy", "meshfed-deny-export-reviews-v2")["spec"]
    assert [list(r["from"][0]["source"]) for r in reviews["rules"]] == [["notPrincipals"]]
    # the DENY goes in before the Gateway (a server never serves without its policies)
    kinds = [(o["kind"], o["spec"].get("action")) for o in exports if "export" in o["metadata"]["name"]][:3]
    assert kinds == [("AuthorizationPolicy", "DENY"), ("AuthorizationPolicy", "ALLOW"), ("Gateway", None)]


@pytest.mark.parametrize("path, unsafe", [
    ("/ratings/..%2Fadmin", True), ("/ratings/%2e%2e/admin", True), ("/ratings/%2E%2E", True),
    ("/ratings/..%5Cadmin", True), ("/ratings/../admin", True), ("/ratings/./0", True), ("/ratings/..", True),
    ("/ratings/0", False), ("/ratings/a.json", False), ("/.well-known/x", False), ("/ratings/a..b", False)])
def test_an_http_export_answers_400_to_an_encoded_slash_or_a_dot_segment(path, unsafe):
    exports = render_exports(build_model(seed(), settings()), "cluster2")
    first = find(exports, "VirtualService", "meshfed-export-details")["spec"]["http"][0]
    assert first["directResponse"]["status"] == 400 and "route" not in first
    # Envoy matches a route's regex against the whole path (RE2, full match), as fullmatch does here
    assert bool(re.fullmatch(first["match"][0]["uri"]["regex"], path)) is unsafe
