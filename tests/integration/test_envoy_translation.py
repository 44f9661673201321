# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rendered-objects -> Envoy translator of the data-plane test is strict: it translates what the
collection renders, field by field, and refuses whatever it does not understand (no Envoy needed)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os
import stat

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.model import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import (
    EGRESS, gateway_service_fqdn, render_gateways)
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_export import render_exports
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_import import render_imports
from ansible_collections.meshfed.federation.tests.integration.envoy_gateway import (
    TranslationError, consumer_routes, egress_config, ingress_config)

INVENTORY = {
    "cluster1": {"identity": "c1.example.com",
                 "imports": [{"name": "reviews", "namespace": "default", "port": 9080,
                              "from": [{"cluster": "cluster2", "export": "reviews-v2"}]}]},
    "cluster2": {"identity": "c2.example.com", "gateway_address": {"address": "127.0.0.1", "port": 15443},
                 "exports": [
                     {"name": "reviews-v2", "service": {"namespace": "bookinfo", "name": "myreviews", "port": 9080},
                      "subset": {"name": "v2", "labels": {"version": "v2"}}, "path_prefix": "/reviews-v2/",
                      "rewrite_prefix": "/", "consumers": ["cluster1"]},
                     {"name": "details", "service": {"namespace": "bookinfo", "name": "details", "port": 9080},
                      "consumers": ["cluster1", "cluster3"]}]},
    "cluster3": {"identity": "c3.example.com"},
}
CREDENTIAL = {"cert": "-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n",
              "key": "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n",
              "ca": "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"}
UPSTREAMS = {("myreviews.bookinfo.svc.cluster.local", 9080, "v2"): ("127.0.0.1", 10001),
             ("details.bookinfo.svc.cluster.local", 9080, None): ("127.0.0.1", 10002)}


@pytest.fixture(scope="module")
def model():
    return build_model(copy.deepcopy(INVENTORY), {"federation_name": "translation"})


def egress_host(model):
    return {gateway_service_fqdn(EGRESS, model.settings)}


def find(objects, kind, name):
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name)
    return found[0]


def ingress(model, tmp_path, mutate=None, upstreams=None):
    exports = copy.deepcopy(render_exports(model, "cluster2"))
    gateway_objects = copy.deepcopy(render_gateways(model, "cluster2", CREDENTIAL))
    if mutate:
        mutate(exports, gateway_objects)
    return ingress_config(exports, gateway_objects, UPSTREAMS if upstreams is None else upstreams, str(tmp_path))


def egress(model, tmp_path, mutate=None):
    imports = copy.deepcopy(render_imports(model, "cluster1"))
    gateway_objects = copy.deepcopy(render_gateways(model, "cluster1", CREDENTIAL))
    if mutate:
        mutate(imports, gateway_objects)
    return egress_config(imports, gateway_objects, str(tmp_path), egress_host(model))


# ---------------------------------------------------------------------------------------------------------
# what is translated


def test_ingress_has_one_sni_filter_chain_per_export_requiring_the_granted_consumers(model, tmp_path):
    listener, = ingress(model, tmp_path)["static_resources"]["listeners"]
    chains = {tuple(c["filter_chain_match"]["server_names"]): c for c in listener["filter_chains"]}
    assert sorted(chains) == [("details.c2.example.com",), ("reviews-v2.c2.example.com",)]
    tls = chains[("reviews-v2.c2.example.com",)]["transport_socket"]["typed_config"]
    assert tls["require_client_certificate"] is True
    validation = tls["common_tls_context"]["validation_context"]
    assert validation["match_typed_subject_alt_names"] == [{"san_type": "DNS", "matcher": {"exact": "c1.example.com"}}]
    details = chains[("details.c2.example.com",)]["transport_socket"]["typed_config"]
    assert [m["matcher"]["exact"] for m in details["common_tls_context"]["validation_context"]
            ["match_typed_subject_alt_names"]] == ["c1.example.com", "c3.example.com"]
    with open(validation["trusted_ca"]["filename"]) as handle:
        assert handle.read() == CREDENTIAL["ca"]
    key_file = tls["common_tls_context"]["tls_certificates"][0]["private_key"]["filename"]
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def test_ingress_route_rewrites_path_and_authority_to_the_local_service(model, tmp_path):
    config = ingress(model, tmp_path)
    listener, = config["static_resources"]["listeners"]
    chain = [c for c in listener["filter_chains"] if c["filter_chain_match"]["server_names"] == ["reviews-v2.c2.example.com"]][0]
    vhost, = chain["filters"][0]["typed_config"]["route_config"]["virtual_hosts"]
    assert vhost["domains"] == ["reviews-v2.c2.example.com", "reviews-v2.c2.example.com:15443"]
    route, = vhost["routes"]
    assert route["match"] == {"prefix": "/reviews-v2/"}
    assert route["route"]["prefix_rewrite"] == "/"
    assert route["route"]["host_rewrite_literal"] == "myreviews.bookinfo.svc.cluster.local"
    cluster = [c for c in config["static_resources"]["clusters"] if c["name"] == route["route"]["cluster"]][0]
    assert cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"] == {
        "address": "127.0.0.1", "port_value": 10001}
    details = [c for c in listener["filter_chains"] if c["filter_chain_match"]["server_names"] == ["details.c2.example.com"]][0]
    details_route, = details["filters"][0]["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
    assert "prefix_rewrite" not in details_route["route"]  # path_prefix == rewrite_prefix: no uri rewrite


def test_egress_originates_mutual_tls_with_sni_and_the_peer_identity_pinned(model, tmp_path):
    config = egress(model, tmp_path)
    listener, = config["static_resources"]["listeners"]
    cluster, = config["static_resources"]["clusters"]
    assert listener["filter_chains"][0]["filters"][0]["typed_config"]["cluster"] == cluster["name"]
    assert cluster["name"] == "outbound|15443|reviews-v2|c2.example.com"
    assert cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"] == {
        "address": "127.0.0.1", "port_value": 15443}
    tls = cluster["transport_socket"]["typed_config"]
    assert tls["sni"] == "reviews-v2.c2.example.com"
    assert tls["common_tls_context"]["validation_context"]["match_typed_subject_alt_names"] == [
        {"san_type": "DNS", "matcher": {"exact": "c2.example.com"}}]
    assert len(tls["common_tls_context"]["tls_certificates"]) == 1
    routes = consumer_routes(render_imports(model, "cluster1"), egress_host(model).pop(), model.settings.gateway_namespace)
    assert routes == [{"host": "reviews.default.svc.cluster.local", "authority": "reviews-v2.c2.example.com",
                       "binding_host": listener["name"]}]


# ---------------------------------------------------------------------------------------------------------
# what is refused


def _export_server(exports):
    return find(exports, "Gateway", "meshfed-export-reviews-v2")["spec"]["servers"][0]


def _export_http(exports):
    return find(exports, "VirtualService", "meshfed-export-reviews-v2")["spec"]["http"][0]


def _set(getter, key, value):
    def mutate(objects, dummy):
        getter(objects)[key] = value
    return mutate


INGRESS_MUTATIONS = {
    "tls mode SIMPLE": _set(lambda o: _export_server(o)["tls"], "mode", "SIMPLE"),
    "tls mode ISTIO_MUTUAL": _set(lambda o: _export_server(o)["tls"], "mode", "ISTIO_MUTUAL"),
    "tls mode PASSTHROUGH": _set(lambda o: _export_server(o)["tls"], "mode", "PASSTHROUGH"),
    "unknown tls key": _set(lambda o: _export_server(o)["tls"], "minProtocolVersion", "TLSV1_3"),
    "file-mounted certificate": _set(lambda o: _export_server(o)["tls"], "serverCertificate", "/etc/x/tls.crt"),
    "unknown server key": _set(_export_server, "defaultEndpoint", "127.0.0.1:80"),
    "server protocol TLS": _set(lambda o: _export_server(o)["port"], "protocol", "TLS"),
    "wildcard host": _set(_export_server, "hosts", ["*.c2.example.com"]),
    "namespaced host": _set(_export_server, "hosts", ["bookinfo/reviews-v2.c2.example.com"]),
    "unknown http route key": _set(_export_http, "retries", {"attempts": 3}),
    "unknown rewrite key": _set(lambda o: _export_http(o)["rewrite"], "uriRegexRewrite", {"match": "x"}),
    "exact uri match": _set(lambda o: _export_http(o)["match"][0], "uri", {"exact": "/reviews-v2/"}),
    "header match": _set(lambda o: _export_http(o)["match"][0], "headers", {"x": {"exact": "y"}}),
    "unknown destination key": _set(lambda o: _export_http(o)["route"][0]["destination"], "weight", 5),
    "two weighted destinations": lambda o, s: _export_http(o)["route"].append(copy.deepcopy(_export_http(o)["route"][0])),
    "unknown subset": _set(lambda o: _export_http(o)["route"][0]["destination"], "subset", "v9"),
    "tcp route on the export": _set(lambda o: find(o, "VirtualService", "meshfed-export-reviews-v2")["spec"], "tcp", []),
    "VS bound to a missing gateway": _set(lambda o: find(o, "VirtualService", "meshfed-export-reviews-v2")["spec"],
                                          "gateways", ["elsewhere"]),
    "VS host on no server": _set(lambda o: find(o, "VirtualService", "meshfed-export-reviews-v2")["spec"],
                                 "hosts", ["other.c2.example.com"]),
    "mesh-wide VS": _set(lambda o: find(o, "VirtualService", "meshfed-export-reviews-v2")["spec"], "gateways", ["mesh"]),
    "wrong gateway selector": _set(lambda o: find(o, "Gateway", "meshfed-export-reviews-v2")["spec"], "selector",
                                   {"istio": "ingressgateway"}),
    "local hop not ISTIO_MUTUAL": _set(lambda o: find(o, "DestinationRule", "meshfed-local-bookinfo-myreviews")["spec"]
                                       ["trafficPolicy"]["tls"], "mode", "DISABLE"),
    "unknown object kind": lambda o, s: o.append({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                                                  "metadata": {"name": "x", "namespace": "istio-private-gateways"},
                                                  "spec": {}}),
    "missing credential Secret": lambda o, s: s.remove(find(s, "Secret", "c2-example-com-certs")),
    "Secret without ca.crt": lambda o, s: find(s, "Secret", "c2-example-com-certs")["data"].pop("ca.crt"),
    "opaque Secret": lambda o, s: find(s, "Secret", "c2-example-com-certs").update(type="Opaque"),
}


@pytest.mark.parametrize("case", sorted(INGRESS_MUTATIONS))
def test_ingress_refuses_what_it_does_not_understand(model, tmp_path, case):
    with pytest.raises(TranslationError):
        ingress(model, tmp_path, INGRESS_MUTATIONS[case])


def test_ingress_refuses_a_destination_without_an_upstream(model, tmp_path):
    with pytest.raises(TranslationError, match="no upstream address"):
        ingress(model, tmp_path, upstreams={k: v for k, v in UPSTREAMS.items() if k[2] is None})


def _peer_rule(imports):
    return find(imports, "DestinationRule", "meshfed-peer-cluster2")["spec"]


def _peer_subset_tls(imports):
    return _peer_rule(imports)["subsets"][0]["trafficPolicy"]["tls"]


def _binding_vs(imports):
    return [o for o in imports if o["kind"] == "VirtualService"
            and o["metadata"]["namespace"] == "istio-private-gateways"][0]["spec"]


def _binding_gateway(imports):
    return [o for o in imports if o["kind"] == "Gateway"][0]["spec"]


def _peer_entry(imports):
    return find(imports, "ServiceEntry", "meshfed-peer-cluster2")["spec"]


EGRESS_MUTATIONS = {
    "origination SIMPLE": _set(_peer_subset_tls, "mode", "SIMPLE"),
    "origination DISABLE": _set(_peer_subset_tls, "mode", "DISABLE"),
    "origination ISTIO_MUTUAL": _set(_peer_subset_tls, "mode", "ISTIO_MUTUAL"),
    "insecureSkipVerify": _set(_peer_subset_tls, "insecureSkipVerify", True),
    "unknown subset policy key": _set(lambda o: _peer_rule(o)["subsets"][0]["trafficPolicy"], "loadBalancer",
                                      {"simple": "ROUND_ROBIN"}),
    "subset labels": _set(lambda o: _peer_rule(o)["subsets"][0], "labels", {"a": "b"}),
    "route to a missing subset": _set(lambda o: _binding_vs(o)["tcp"][0]["route"][0]["destination"], "subset", "nope"),
    "route match on another port": _set(lambda o: _binding_vs(o)["tcp"][0]["match"][0], "port", 8443),
    "route match by sni": _set(lambda o: _binding_vs(o)["tcp"][0]["match"][0], "sniHosts", ["x"]),
    "http route on the binding": _set(_binding_vs, "http", []),
    "egress server SIMPLE": _set(lambda o: _binding_gateway(o)["servers"][0]["tls"], "mode", "SIMPLE"),
    "egress server HTTP": _set(lambda o: _binding_gateway(o)["servers"][0]["port"], "protocol", "HTTP"),
    "service entry resolution NONE": _set(_peer_entry, "resolution", "NONE"),
    "service entry in the mesh": _set(_peer_entry, "location", "MESH_INTERNAL"),
    "service entry without the port": _set(lambda o: _peer_entry(o)["ports"][0], "number", 15444),
    "service entry two endpoints": lambda o, s: _peer_entry(o)["endpoints"].append({"address": "127.0.0.2"}),
    "unknown service entry key": _set(_peer_entry, "workloadSelector", {"labels": {"a": "b"}}),
    "egress hop not ISTIO_MUTUAL": _set(lambda o: find(o, "DestinationRule", "meshfed-egress-gateway")["spec"]
                                        ["trafficPolicy"]["tls"], "mode", "DISABLE"),
    "missing client Secret": lambda o, s: s.remove(find(s, "Secret", "c1-example-com-certs")),
}


@pytest.mark.parametrize("case", sorted(EGRESS_MUTATIONS))
def test_egress_refuses_what_it_does_not_understand(model, tmp_path, case):
    with pytest.raises(TranslationError):
        egress(model, tmp_path, EGRESS_MUTATIONS[case])


def test_consumer_routes_refuse_an_alias_without_the_export_authority(model):
    imports = copy.deepcopy(render_imports(model, "cluster1"))
    alias = find(imports, "VirtualService", "reviews")
    alias["spec"]["http"][0]["route"][0]["headers"]["request"]["set"] = {"host": "x"}
    with pytest.raises(TranslationError):
        consumer_routes(imports, egress_host(model).pop(), model.settings.gateway_namespace)
