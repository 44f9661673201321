# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.model.checks import path_is_under
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import short_name
from ansible_collections.meshfed.federation.plugins.module_utils.model.queries import clusters_needing_address, clusters_to_discover
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import (
    DISCOVER, FederationModelError, GatewayAddress)

from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.scenarios import seed, settings, three_clusters


def errors_of(clusters, values=None):
    with pytest.raises(FederationModelError) as caught:
        build_model(clusters, settings(**(values or {})))
    return caught.value.errors


def only_error(clusters, values=None):
    errors = errors_of(clusters, values)
    assert len(errors) == 1, errors
    return errors[0]


def test_seed_scenario_builds_the_expected_model():
    federation = build_model(seed(), settings(federation_name="bookinfo"))
    cluster1, cluster2 = federation.clusters["cluster1"], federation.clusters["cluster2"]
    assert cluster2.gateway_address == GatewayAddress("127.0.0.1", 15443)
    assert cluster1.gateway_address == DISCOVER
    reviews = cluster2.exports[0]
    assert (reviews.service.namespace, reviews.service.name, reviews.subset.labels) == ("bookinfo", "myreviews", {"version": "v2"})
    assert reviews.path_prefix == "/" and reviews.rewrite_prefix == "/"
    imported = cluster1.imports[0]
    assert imported.local.weight == 50 and imported.sources[0].weight == 50
    assert imported.retries.attempts == 3
    assert federation.settings.istio_api_version == "networking.istio.io/v1"
    assert clusters_needing_address(federation) == ["cluster2"]


def test_only_a_needed_address_left_to_discovery_is_discovered():
    clusters = seed()
    # cluster2 exports to cluster1's import, at a fixed address: nothing to discover
    assert clusters_to_discover(build_model(clusters, settings())) == []
    clusters["cluster2"]["gateway_address"] = "discover"
    assert clusters_to_discover(build_model(clusters, settings())) == ["cluster2"]
    # an exporting cluster nobody imports from: its address is not needed
    del clusters["cluster1"]["imports"]
    assert clusters_to_discover(build_model(clusters, settings())) == []


def test_gateway_address_accepts_host_port_string():
    federation = build_model(three_clusters(), settings())
    assert federation.clusters["cluster2"].gateway_address == GatewayAddress("gw.c2.example.com", 15443)
    assert federation.clusters["cluster3"].gateway_address == GatewayAddress("127.0.0.3", 15443)


def test_unknown_peer_names_the_import_and_field():
    clusters = seed()
    clusters["cluster1"]["imports"][1]["from"][0]["cluster"] = "cluster9"
    assert only_error(clusters) == (
        "cluster1: meshfed_imports[1] (details): from[0]: unknown peer cluster 'cluster9' (known: cluster1, cluster2)")


def test_import_of_an_export_not_granted_to_the_consumer():
    clusters = seed()
    clusters["cluster3"] = {"identity": "c3.example.com",
                            "imports": [{"name": "details", "namespace": "default", "port": 9080,
                                         "from": [{"cluster": "cluster2", "export": "details"}]}]}
    assert only_error(clusters) == (
        "cluster3: meshfed_imports[0] (details): from[0]: export 'details' of cluster 'cluster2' "
        "is not granted to cluster3 (its consumers: cluster1)")


def test_import_of_a_missing_export_lists_what_the_peer_offers():
    clusters = seed()
    clusters["cluster1"]["imports"][1]["from"][0]["export"] = "ratings"
    assert "cluster 'cluster2' has no export named 'ratings' (it exports: details, reviews-v2)" in only_error(clusters)


def test_unknown_consumer_and_self_consumption():
    clusters = seed()
    clusters["cluster2"]["exports"][1]["consumers"] = ["cluster1", "cluster2", "nowhere"]
    errors = errors_of(clusters)
    assert "cluster2: meshfed_exports[1] (details): consumers[1]: a cluster cannot consume its own export" in errors
    assert ("cluster2: meshfed_exports[1] (details): consumers[2]: unknown cluster 'nowhere' (known: cluster1, cluster2)"
            in errors)


def test_duplicate_export_and_import_names():
    clusters = seed()
    clusters["cluster2"]["exports"][1]["name"] = "reviews-v2"
    clusters["cluster1"]["imports"][1]["name"] = "reviews"
    errors = errors_of(clusters)
    assert "cluster2: duplicate export name in meshfed_exports 'reviews-v2'" in errors
    assert "cluster1: duplicate import (namespace/name) in meshfed_imports 'default/reviews'" in errors


def test_duplicate_identity():
    clusters = seed()
    clusters["cluster2"]["identity"] = "c1.example.com"
    assert "cluster2: meshfed_identity 'c1.example.com' is also used by cluster1" in errors_of(clusters)


def test_ports_out_of_range():
    clusters = seed()
    clusters["cluster2"]["exports"][0]["service"]["port"] = 0
    clusters["cluster1"]["imports"][1]["port"] = 65536
    clusters["cluster2"]["gateway_address"]["port"] = "443"
    errors = errors_of(clusters)
    assert "cluster2: meshfed_exports[0] (reviews-v2): service.port 0 is not a port number (1-65535)" in errors
    assert "cluster1: meshfed_imports[1] (details): port 65536 is not a port number (1-65535)" in errors
    assert "cluster2: meshfed_gateway_address.port '443' is not a port number (1-65535)" in errors


@pytest.mark.parametrize("local_weight, remote_weight, message", [
    (50, 40, "weights [40, 50] add up to 90, not 100"),
    (None, 50, "weight is required on every source and on local when traffic is split across 2 destinations"),
    (150, -50, "weights must be integers between 0 and 100, got [-50, 150]"),
])
def test_weights_must_add_up(local_weight, remote_weight, message):
    clusters = seed()
    clusters["cluster1"]["imports"][0]["local"]["weight"] = local_weight
    clusters["cluster1"]["imports"][0]["from"][0]["weight"] = remote_weight
    assert only_error(clusters) == "cluster1: meshfed_imports[0] (reviews): " + message


def test_one_local_name_from_two_peers_needs_weights():
    clusters = three_clusters()
    for source in clusters["cluster1"]["imports"][0]["from"]:
        del source["weight"]
    assert "weight is required on every source when traffic is split across 2 destinations" in only_error(clusters)


@pytest.mark.parametrize("field, value, message", [
    ("name", "Reviews_V2", "name 'Reviews_V2' is not a valid DNS-1123 label"),
    ("name", "x" * 64, "is not a valid DNS-1123 label"),
])
def test_invalid_dns_names(field, value, message):
    clusters = seed()
    clusters["cluster2"]["exports"][0][field] = value
    clusters["cluster1"]["imports"][0]["from"][0]["export"] = value
    assert message in errors_of(clusters)[0]


def test_invalid_namespace_and_identity():
    clusters = seed()
    clusters["cluster1"]["imports"][1]["namespace"] = "Default"
    clusters["cluster2"]["identity"] = "C2.Example.com"
    errors = errors_of(clusters)
    assert any(e.startswith("cluster1: meshfed_imports[1] (details): namespace 'Default' is not a valid DNS-1123 label")
               for e in errors)
    assert "cluster2: meshfed_identity 'C2.Example.com' is not a valid lowercase DNS name" in errors


def test_missing_identity():
    clusters = seed()
    del clusters["cluster1"]["identity"]
    assert only_error(clusters).startswith("cluster1: meshfed_identity is missing")


def test_protocol_mismatch_and_http_only_fields():
    clusters = three_clusters()
    clusters["cluster2"]["imports"][0]["protocol"] = "http"
    clusters["cluster3"]["exports"][1]["path_prefix"] = "/x"
    errors = errors_of(clusters)
    assert ("cluster2: meshfed_imports[0] (db): from[0]: protocol http does not match export 'postgres' of cluster3, "
            "which is tcp") in errors
    assert ("cluster3: meshfed_exports[1] (postgres): path_prefix and rewrite_prefix apply to http exports only "
            "(this one is tcp: routed by SNI)") in errors


def test_unknown_fields_are_reported_not_ignored():
    clusters = seed()
    clusters["cluster2"]["exports"][0]["consumer"] = ["cluster1"]
    assert ("cluster2: meshfed_exports[0] (reviews-v2): unknown field 'consumer' (allowed: name, service, subset, "
            "protocol, path_prefix, rewrite_prefix, consumers, probe_path)") in errors_of(clusters)


def test_probe_path_is_kept_on_http_exports_under_their_path_prefix():
    clusters = three_clusters()
    clusters["cluster2"]["exports"][0]["probe_path"] = "/hello/healthz?verbose=1"
    clusters["cluster3"]["exports"][0]["probe_path"] = "/"
    federation = build_model(clusters, settings())
    assert federation.clusters["cluster2"].exports[0].probe_path == "/hello/healthz?verbose=1"
    assert federation.clusters["cluster3"].exports[0].probe_path == "/"
    assert federation.clusters["cluster3"].exports[1].probe_path is None


@pytest.mark.parametrize("probe_path, message", [
    ("healthz", "probe_path 'healthz' must start with '/'"),
    (7, "probe_path 7 must start with '/'"),
    ("/hello world", "probe_path '/hello world' must not contain spaces or control characters"),
    ("/hellox", "probe_path /hellox is not under the export's path_prefix /hello, where peers have no route"),
    ("/", "probe_path / is not under the export's path_prefix /hello, where peers have no route"),
])
def test_a_bad_probe_path_names_cluster_variable_and_field(probe_path, message):
    clusters = three_clusters()
    clusters["cluster2"]["exports"][0]["probe_path"] = probe_path
    assert only_error(clusters) == "cluster2: meshfed_exports[0] (helloworld): " + message


@pytest.mark.parametrize("path, prefix, under", [
    ("/details/0", "/details", True), ("/details", "/details", True), ("/details?x=1", "/details", True),
    ("/detailsx", "/details", False), ("/api/v1", "/api/", True), ("/api", "/api/", False), ("/x", "/", True),
])
def test_path_is_under_a_prefix_segment_by_segment(path, prefix, under):
    assert path_is_under(path, prefix) is under


def test_probe_path_on_a_tcp_export_is_an_error():
    clusters = three_clusters()
    clusters["cluster3"]["exports"][1]["probe_path"] = "/health"
    assert only_error(clusters) == ("cluster3: meshfed_exports[1] (postgres): probe_path applies to http exports "
                                    "only (this one is tcp: its probe is a handshake)")


def test_bad_durations_and_label_values():
    clusters = seed()
    clusters["cluster1"]["imports"][0]["timeout"] = "5 seconds"
    clusters["cluster2"]["exports"][0]["subset"]["labels"] = {"version": 2}
    errors = errors_of(clusters)
    assert "cluster1: meshfed_imports[0] (reviews): timeout '5 seconds' is not a duration such as '500ms', '5s' or '1m'" in errors
    assert any("subset.labels[version] value 2 is not a valid label value" in e for e in errors)


def test_all_errors_are_reported_at_once():
    clusters = seed()
    del clusters["cluster1"]["identity"]
    clusters["cluster1"]["imports"][1]["port"] = -1
    clusters["cluster2"]["exports"][1]["consumers"] = []
    clusters["cluster1"]["imports"][0]["from"][0]["weight"] = 10
    errors = errors_of(clusters)
    assert [e.split(":")[0] + ":" + e.split(":")[1] for e in errors] == [
        "cluster1: meshfed_identity is missing",
        "cluster1: meshfed_imports[1] (details)",          # port -1
        "cluster2: meshfed_exports[1] (details)",          # no consumers
        "cluster1: meshfed_imports[0] (reviews)",          # weights 50 + 10
        "cluster1: meshfed_imports[1] (details)",          # so details is granted to nobody
    ]


def test_settings_are_validated():
    errors = errors_of(seed(), {"istio_api_version": "networking.istio.io/v1alpha3", "cert_delivery": "vault",
                                "autoscale_min": 6})
    # each names the variable the user wrote
    assert "settings: meshfed_istio_api_version 'networking.istio.io/v1alpha3' must be one of networking.istio.io/v1, " \
           "networking.istio.io/v1beta1" in errors
    assert "settings: meshfed_cert_delivery 'vault' must be one of sds, file" in errors
    assert "settings: meshfed_autoscale_min (6) is greater than meshfed_autoscale_max (5)" in errors


def test_a_settings_error_names_the_variable_not_an_internal_key():
    errors = errors_of(seed(), {"federation_name": "Bookinfo Lab", "ingress_port": "15443", "autoscale_max": None,
                                "autoscale_cpu_percent": 0, "gateway_image": ""})
    assert errors == [
        "settings: meshfed_federation_name 'Bookinfo Lab' is not a valid DNS-1123 label (lowercase alphanumerics and "
        "'-', at most 63 characters)",
        "settings: meshfed_ingress_port '15443' is not a port number (1-65535)",
        "settings: meshfed_autoscale_cpu_percent 0 must be a positive integer",
        "settings: meshfed_gateway_image '' must be a non-empty string"]


def test_empty_inventory_is_an_error():
    assert only_error({}).startswith("inventory: no clusters")


def test_short_name_is_stable_and_bounded():
    long_name = short_name("meshfed-import", "a" * 40, "b" * 40)
    assert len(long_name) == 63 and long_name == short_name("meshfed-import", "a" * 40, "b" * 40)
    assert long_name != short_name("meshfed-import", "a" * 40, "c" * 40)
    assert short_name("a", "b") == "a-b"


@pytest.mark.parametrize("address, kind", [("127.0.0.1", "loopback"), ("127.10.0.3", "loopback"), ("::1", "loopback"),
                                           ("::ffff:127.0.0.1", "loopback"), ("localhost", "loopback"),
                                           ("169.254.169.254", "link-local"), ("fe80::1", "link-local")])
def test_a_loopback_or_link_local_peer_gateway_address_is_refused(address, kind):
    clusters = seed()
    clusters["cluster2"]["gateway_address"] = {"address": address, "port": 15443}
    assert only_error(clusters, {"allow_local_gateway_addresses": False}) == (
        "cluster2: meshfed_gateway_address.address %s is a %s address, which a consumer's egress gateway would reach "
        "on its own host, not at the peer (set meshfed_allow_local_gateway_addresses: true for a lab whose clusters "
        "share one machine)" % (address, kind))
    assert build_model(clusters, settings()).clusters["cluster2"].gateway_address.address == address


def test_local_gateway_addresses_are_refused_by_default_and_the_setting_takes_ansible_booleans():
    assert build_model(seed(), {"allow_local_gateway_addresses": "true"}).settings.allow_local_gateway_addresses
    assert build_model(seed(), settings()).settings.istio_revision is None
    with pytest.raises(FederationModelError, match="cluster3: meshfed_gateway_address.address 127.0.0.3 is a loopback"):
        build_model(three_clusters())
    assert any("settings: meshfed_allow_local_gateway_addresses 'maybe' must be true or false"
               in e for e in errors_of(seed(), {"allow_local_gateway_addresses": "maybe"}))


def test_the_istio_revision_is_a_dns_label():
    assert build_model(seed(), settings(istio_revision="1-28-0")).settings.istio_revision == "1-28-0"
    assert build_model(seed(), settings(istio_revision="")).settings.istio_revision is None
    assert only_error(seed(), {"istio_revision": "1.28"}) == (
        "settings: meshfed_istio_revision '1.28' is not a valid DNS-1123 label (lowercase "
        "alphanumerics and '-', at most 63 characters)")
