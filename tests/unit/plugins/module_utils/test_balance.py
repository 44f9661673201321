# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Weighted and failover imports in the model: what users write, what is refused (naming cluster, import and field),
the fallback orders and the egress gateway's ports for their sources."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.kube.mesh_settings import Observed, sidecar_findings
from ansible_collections.meshfed.federation.plugins.module_utils.model.balance import fallback_orders, legs
from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.model.data import model_data, model_from_data
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import LEG_PORTS
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import (
    BalanceInputs, FederationModelError, LocalCopy, OUTLIER_DETECTION_DEFAULTS)
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.federation_model import import_summary
from ansible_collections.meshfed.federation.plugins.module_utils.observe.discovery import peer_addresses
from ansible_collections.meshfed.federation.plugins.module_utils.observe.serving import (
    destination_health, ready_pods, serving)
from ansible_collections.meshfed.federation.plugins.plugin_utils.report import mode_text, serving_text
from ansible_collections.meshfed.federation.plugins.module_utils.observe.local_copies import (
    LocalCopyError, PLACEHOLDER_ADDRESS, PLACEHOLDER_SELECTOR, read_balance_inputs)
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import render_gateways
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_import import (
    host_claims, render_imports)
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.scenarios import (
    CREDENTIAL, settings, three_clusters)


def balanced(**fields):
    """THREE_CLUSTERS with cluster1's hw import given a local copy (subset v1) and ``fields``."""
    clusters = three_clusters()
    hw = clusters["cluster1"]["imports"][0]
    hw["local"] = {"subset": {"name": "v1", "labels": {"version": "v1"}}}
    for source in hw["from"]:
        source.pop("weight")
    hw.update(fields)
    return clusters


def hw_of(clusters):
    return build_model(clusters, settings()).clusters["cluster1"].imports[0]


def errors_of(clusters):
    with pytest.raises(FederationModelError) as caught:
        build_model(clusters, settings())
    return caught.value.errors


def test_failover_defaults_to_local_then_the_sources_as_listed_with_outlier_detection_defaults():
    hw = hw_of(balanced(mode="failover"))
    assert (hw.mode, hw.order) == ("failover", None)
    assert hw.outlier_detection == OUTLIER_DETECTION_DEFAULTS
    assert fallback_orders(hw) == [("local", None, ("local", "cluster2", "cluster3"))]


def test_failover_follows_the_order_given():
    hw = hw_of(balanced(mode="failover", order=["cluster3", "local", "cluster2"],
                        outlier_detection={"consecutive_gateway_errors": 3, "base_ejection_time": "30s"}))
    assert fallback_orders(hw) == [("cluster3", None, ("cluster3", "local", "cluster2"))]
    assert hw.outlier_detection == OUTLIER_DETECTION_DEFAULTS._replace(consecutive_gateway_errors=3,
                                                                       base_ejection_time="30s")


def test_weighted_gives_each_destination_its_share_and_falls_back_on_the_others_in_the_listed_order():
    clusters = balanced(mode="weighted")
    hw = clusters["cluster1"]["imports"][0]
    hw["local"]["weight"], hw["from"][0]["weight"], hw["from"][1]["weight"] = 60, 40, 0
    assert fallback_orders(hw_of(clusters)) == [("local", 60, ("local", "cluster2", "cluster3")),
                                                ("cluster2", 40, ("cluster2", "local", "cluster3"))]


def test_a_balanced_import_survives_the_model_as_data():
    federation = build_model(balanced(mode="failover", order=["local", "cluster3", "cluster2"]), settings())
    assert model_from_data(model_data(federation)) == federation


@pytest.mark.parametrize("fields, message", [
    ({"mode": "random"}, "mode 'random' must be one of split, weighted, failover"),
    ({"order": ["local", "cluster2", "cluster3"]}, "order applies to mode failover only (this import's mode is split)"),
    ({"mode": "failover", "order": ["local", "cluster2"]}, "order ['local', 'cluster2'] must name each of local, "
                                                           "cluster2, cluster3 once"),
    ({"mode": "failover", "order": "local"}, "order must list local and the clusters of from"),
    ({"mode": "failover", "outlier_detection": {"interval": 5}}, "outlier_detection: interval 5 is not a duration"),
    ({"mode": "failover", "outlier_detection": {"max_ejection_percent": 0}},
     "outlier_detection: max_ejection_percent 0 must be an integer from 1 to 100"),
    ({"mode": "failover", "outlier_detection": {"consecutive_local_origin_failures": 2}},
     "outlier_detection: consecutive_local_origin_failures applies to tcp and tls imports"),
    ({"mode": "failover", "outlier_detection": {"consecutive_errors": 2}}, "outlier_detection: unknown field"),
    ({"outlier_detection": {}}, "outlier_detection applies to modes weighted and failover only"),
    ({"mode": "weighted"}, "weight is required on every source and on local"),
])
def test_bad_balance_fields_name_cluster_import_and_field(fields, message):
    clusters = balanced(**fields)
    if fields.get("mode") not in ("weighted", "failover"):  # split: weights as it needs them
        hw = clusters["cluster1"]["imports"][0]
        hw["local"]["weight"], hw["from"][0]["weight"], hw["from"][1]["weight"] = 50, 25, 25
    errors = errors_of(clusters)
    assert len(errors) == 1 and errors[0].startswith("cluster1: meshfed_imports[0] (hw)") and message in errors[0], errors


def test_failover_takes_an_order_not_weights():
    clusters = balanced(mode="failover")
    clusters["cluster1"]["imports"][0]["from"][1]["weight"] = 50
    (error,) = errors_of(clusters)
    assert "weight applies to modes split and weighted; mode failover takes order (weight given on cluster3)" in error


def test_a_balanced_import_needs_two_destinations_each_from_its_own_cluster():
    clusters = three_clusters()
    clusters["cluster2"]["imports"][0]["mode"] = "failover"
    (error,) = errors_of(clusters)
    assert error.startswith("cluster2: meshfed_imports[0] (db)") and "needs at least two destinations" in error
    clusters = balanced(mode="failover")
    clusters["cluster1"]["imports"][0]["from"][1]["cluster"] = "cluster2"
    clusters["cluster2"]["exports"].append(dict(clusters["cluster3"]["exports"][0], name="helloworld-v1"))
    clusters["cluster1"]["imports"][0]["from"][1]["export"] = "helloworld-v1"
    (error,) = errors_of(clusters)
    assert "needs one source per cluster; from names cluster2 more than once" in error


def test_each_source_of_a_balanced_import_gets_its_own_egress_port_and_keeps_it_when_another_comes():
    federation = build_model(balanced(mode="failover"), settings())
    first = dict(((leg.source.cluster), leg.port) for leg in legs(federation.clusters["cluster1"]))
    assert sorted(first) == ["cluster2", "cluster3"] and len(set(first.values())) == 2
    assert all(port in LEG_PORTS for port in first.values())
    clusters = balanced(mode="failover")
    clusters["cluster1"]["imports"].append(dict(clusters["cluster1"]["imports"][0], name="hw2"))
    again = build_model(clusters, settings()).clusters["cluster1"]
    ports = dict(((leg.imported.name, leg.source.cluster), leg.port) for leg in legs(again))
    assert len(set(ports.values())) == 4
    assert dict((c, p) for (name, c), p in ports.items() if name == "hw") == first
    assert not legs(build_model(three_clusters(), settings()).clusters["cluster1"])  # a split import has none


# --- rendering ---------------------------------------------------------------------------------------------------

def istio_priority(endpoint_labels, failover_priority):
    """What istiod gives an endpoint for a DestinationRule's failoverPriority of ``label=value`` entries
    (applyFailoverPriorityPerLocality, pilot/pkg/networking/core/loadbalancer): 0 when every entry matches, else
    len(entries) - j for the first entry j that does not."""
    for j, entry in enumerate(failover_priority):
        key, value = entry.split("=", 1)
        if endpoint_labels.get(key, "") != value:
            return len(failover_priority) - j
    return 0


SELECTOR = {"app": "helloworld"}


def rendered(clusters, inputs=None):
    federation = build_model(clusters, settings())
    inputs = inputs or BalanceInputs("10.96.0.20", {("default", "hw"): LocalCopy(SELECTOR, 5678)})
    return federation, render_imports(federation, "cluster1", peer_addresses(federation, "cluster1", None), inputs)


def find(objects, kind, name=None, namespace=None):
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
             and (namespace is None or o["metadata"]["namespace"] == namespace)]
    return found


def endpoint_priorities(objects, rule):
    """Each endpoint of the import's cluster (the local pods as 'local', the egress per source) with the priority
    istiod gives it under ``rule``."""
    priority = rule["spec"]["trafficPolicy"]["loadBalancer"]["localityLbSetting"]["failoverPriority"]
    out = {}
    for entry in find(objects, "ServiceEntry", namespace="default"):
        if rule["spec"]["host"] not in entry["spec"]["hosts"]:
            continue
        if "workloadSelector" in entry["spec"]:
            out["local"] = istio_priority(dict(SELECTOR, version="v1"), priority)
        for endpoint in entry["spec"].get("endpoints", []):
            (leg,) = [k for k in endpoint["labels"] if k.startswith("leg.meshfed.io/")]
            out[leg.split("/", 1)[1]] = istio_priority(endpoint["labels"], priority)
    return out


@pytest.mark.parametrize("order", [["local", "cluster2", "cluster3"], ["cluster3", "local", "cluster2"],
                                   ["cluster2", "cluster3", "local"]])
def test_failover_gives_each_destination_the_priority_of_its_place_in_the_order(order):
    dummy, objects = rendered(balanced(mode="failover", order=order))
    (rule,) = find(objects, "DestinationRule", namespace="default")
    assert endpoint_priorities(objects, rule) == dict((name, index) for index, name in enumerate(order))
    assert rule["spec"]["host"] == "%s.hw.default.meshfed.internal" % order[0]
    policy = rule["spec"]["trafficPolicy"]
    assert policy["outlierDetection"] == {"consecutive5xxErrors": 5, "consecutiveGatewayErrors": 2, "interval": "1s",
                                          "baseEjectionTime": "10s", "maxEjectionPercent": 100}
    assert policy["tls"] == {"mode": "ISTIO_MUTUAL"} and policy["loadBalancer"]["localityLbSetting"]["enabled"]
    (route,) = find(objects, "VirtualService", "hw", "default")
    (http,) = route["spec"]["http"]
    assert http["route"] == [{"destination": {"host": rule["spec"]["host"], "port": {"number": 5000}}}]
    assert http["retries"] == {"attempts": 3, "retryOn": "connect-failure,refused-stream,reset,gateway-error",
                               "retryRemoteLocalities": True}
    assert route["spec"]["exportTo"] == ["."] and rule["spec"]["exportTo"] == ["."]


def test_weighted_sends_each_destination_its_share_and_each_share_falls_back_in_its_own_order():
    clusters = balanced(mode="weighted", timeout="3s", retries={"attempts": 4, "per_try_timeout": "1s"})
    hw = clusters["cluster1"]["imports"][0]
    hw["local"]["weight"], hw["from"][0]["weight"], hw["from"][1]["weight"] = 50, 30, 20
    dummy, objects = rendered(clusters)
    rules = dict((r["spec"]["host"].split(".")[0], r) for r in find(objects, "DestinationRule", namespace="default"))
    assert endpoint_priorities(objects, rules["local"]) == {"local": 0, "cluster2": 1, "cluster3": 2}
    assert endpoint_priorities(objects, rules["cluster2"]) == {"cluster2": 0, "local": 1, "cluster3": 2}
    assert endpoint_priorities(objects, rules["cluster3"]) == {"cluster3": 0, "local": 1, "cluster2": 2}
    (http,) = find(objects, "VirtualService", "hw", "default")[0]["spec"]["http"]
    assert [(r["destination"]["host"], r["weight"]) for r in http["route"]] == [
        ("local.hw.default.meshfed.internal", 50), ("cluster2.hw.default.meshfed.internal", 30),
        ("cluster3.hw.default.meshfed.internal", 20)]
    assert http["timeout"] == "3s" and http["retries"] == {
        "attempts": 4, "perTryTimeout": "1s", "retryOn": "connect-failure,refused-stream,reset,gateway-error",
        "retryRemoteLocalities": True}


def test_the_local_pods_and_the_egress_per_source_are_the_endpoints_and_each_source_has_its_own_egress_port():
    federation, objects = rendered(balanced(mode="failover"))
    ports = dict((leg.source.cluster, leg.port) for leg in legs(federation.clusters["cluster1"]))
    local, sources = find(objects, "ServiceEntry", namespace="default")
    hosts = ["local.hw.default.meshfed.internal"]
    egress_san = ["spiffe://cluster.local/ns/istio-private-gateways/sa/istio-private-egressgateway"]
    assert local["spec"] == {"hosts": hosts, "location": "MESH_INTERNAL", "resolution": "STATIC",
                             "ports": [{"number": 5000, "name": "http-hw", "protocol": "HTTP", "targetPort": 5678}],
                             "workloadSelector": {"labels": {"app": "helloworld", "version": "v1"}},
                             "subjectAltNames": egress_san, "exportTo": ["."]}
    assert sources["spec"]["endpoints"] == [
        {"address": "10.96.0.20", "ports": {"http-hw": ports[name]},
         "labels": {"leg.meshfed.io/%s" % name: "true", "meshfed.io/source-leg": "true"}}
        for name in ("cluster2", "cluster3")]
    assert sources["spec"]["subjectAltNames"] == egress_san and sources["spec"]["hosts"] == hosts
    # the egress: per source a server on its port (any host, only its own namespace's routes), a route to the source
    # like a binding's, and the importing namespace alone allowed on that port
    for name, port in ports.items():
        (gateway,) = [g for g in find(objects, "Gateway") if g["spec"]["servers"][0]["port"]["number"] == port]
        (server,) = gateway["spec"]["servers"]
        assert server["hosts"] == ["./*"] and server["tls"] == {"mode": "ISTIO_MUTUAL"} and server["port"]["protocol"] == "HTTPS"
        (forward,) = find(objects, "VirtualService", gateway["metadata"]["name"], "istio-private-gateways")
        assert forward["spec"]["hosts"] == ["*"] and forward["spec"]["gateways"] == [gateway["metadata"]["name"]]
        (http,) = forward["spec"]["http"]
        assert http["route"][0]["destination"]["host"] == federation.clusters[name].identity
        assert http["rewrite"]["authority"].startswith("helloworld.")
        assert http["headers"]["request"]["set"] == {"x-meshfed-caller": "%DOWNSTREAM_PEER_URI_SAN%"}
        policies = [p for p in find(objects, "AuthorizationPolicy")
                    if p["spec"]["rules"][0]["when"] == [{"key": "destination.port", "values": [str(port)]}]]
        assert sorted((p["spec"]["action"], str(p["spec"]["rules"][0]["from"])) for p in policies) == [
            ("ALLOW", str([{"source": {"namespaces": ["default"]}}])),
            ("DENY", str([{"source": {"notNamespaces": ["default"]}}]))]
    # a balanced import has no binding of its own on the egress's SNI port, nor subsets in the egress rule
    assert all(s["port"]["number"] in ports.values() for g in find(objects, "Gateway") for s in g["spec"]["servers"])
    (egress_rule,) = find(objects, "DestinationRule", "meshfed-egress-gateway")
    assert not egress_rule["spec"].get("subsets")


def test_the_egress_gateway_service_has_a_port_per_leg_and_its_pods_are_not_restarted_for_one():
    federation = build_model(balanced(mode="failover"), settings())
    ports = sorted(leg.port for leg in legs(federation.clusters["cluster1"]))
    objects = render_gateways(federation, "cluster1", CREDENTIAL)
    (service,) = [o for o in objects if o["kind"] == "Service" and "egress" in o["metadata"]["name"]]
    assert [p["port"] for p in service["spec"]["ports"]] == [federation.settings.egress_port] + ports
    assert all(p["targetPort"] == p["port"] for p in service["spec"]["ports"])
    split = render_gateways(build_model(three_clusters(), settings()), "cluster1", CREDENTIAL)
    deployment = [o for o in objects if o["kind"] == "Deployment" and "egress" in o["metadata"]["name"]]
    assert deployment == [o for o in split if o["kind"] == "Deployment" and "egress" in o["metadata"]["name"]]


def test_tcp_failover_takes_connect_failures_as_local_origin_errors_when_told():
    clusters = balanced(mode="failover")
    clusters["cluster2"]["imports"][0].update(
        mode="failover", local={}, outlier_detection={"consecutive_local_origin_failures": 1})
    federation = build_model(clusters, settings())
    objects = render_imports(federation, "cluster2", peer_addresses(federation, "cluster2", None),
                             BalanceInputs("10.96.0.30", {("apps", "db"): LocalCopy({"app": "pg"}, 5432)}))
    (rule,) = find(objects, "DestinationRule", namespace="apps")
    assert rule["spec"]["trafficPolicy"]["outlierDetection"]["splitExternalLocalOriginErrors"] is True
    assert rule["spec"]["trafficPolicy"]["outlierDetection"]["consecutiveLocalOriginFailures"] == 1
    assert "connectionPool" not in rule["spec"]["trafficPolicy"]
    (route,) = find(objects, "VirtualService", "db", "apps")
    assert route["spec"]["tcp"] == [{"match": [{"port": 5432}], "route": [
        {"destination": {"host": "local.db.apps.meshfed.internal", "port": {"number": 5432}}}]}]
    (server,) = [s for g in find(objects, "Gateway") for s in g["spec"]["servers"]]
    assert server["port"]["protocol"] == "TLS"


def test_rendered_without_a_cluster_the_reads_are_placeholders_that_select_nothing():
    federation = build_model(balanced(mode="failover"), settings())
    inputs = read_balance_inputs(None, federation, "cluster1")
    assert inputs == BalanceInputs(PLACEHOLDER_ADDRESS, {("default", "hw"): LocalCopy(PLACEHOLDER_SELECTOR, None)})
    assert read_balance_inputs(None, build_model(three_clusters(), settings()), "cluster1") is None


class Reads(object):
    """A client that answers GETs and LISTs of Services from a dict (namespace, name) -> Service, and counts them."""

    def __init__(self, services):
        self.services, self.gets, self.lists = services, [], []

    def get(self, obj):
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        self.gets.append(key)
        return self.services.get(key)

    def list_namespace(self, api_version, kind, namespace):
        self.lists.append((kind, namespace))
        return [dict(s, metadata={"name": name, "namespace": ns})
                for (ns, name), s in sorted(self.services.items()) if ns == namespace]


EGRESS_SERVICE = {("istio-private-gateways", "istio-private-egressgateway"): {"spec": {"clusterIP": "10.96.0.9"}}}


def both(services):
    return dict(list(EGRESS_SERVICE.items()) + list(services.items()))


def local_service(**spec):
    return {("default", "hw"): {"spec": dict({"selector": SELECTOR, "ports": [{"port": 5000, "targetPort": 5678}]},
                                             **spec)}}


def test_the_reads_are_one_get_of_the_egress_service_and_one_list_per_namespace_with_local_copies():
    clusters = balanced(mode="failover")
    clusters["cluster1"]["imports"].append(dict(clusters["cluster1"]["imports"][0], name="hw2"))
    federation = build_model(clusters, settings())
    services = both(local_service())
    services[("default", "hw2")] = {"spec": {"selector": {"app": "hw2"}, "ports": [{"port": 5000}]}}
    reads = Reads(services)
    assert read_balance_inputs(reads, federation, "cluster1") == BalanceInputs(
        "10.96.0.9", {("default", "hw"): LocalCopy(SELECTOR, 5678), ("default", "hw2"): LocalCopy({"app": "hw2"}, 5000)})
    assert reads.gets == [("istio-private-gateways", "istio-private-egressgateway")]
    assert reads.lists == [("Service", "default")]


@pytest.mark.parametrize("services, message", [
    (EGRESS_SERVICE, "cluster1: meshfed_imports[0] (hw): local: Service default/hw not found"),
    (both(local_service(selector=None)), "Service default/hw has no selector"),
    (both(local_service(ports=[{"port": 80}])), "Service default/hw has no port 5000 (its ports: 80)"),
    (both(local_service(ports=[{"port": 5000, "targetPort": "http"}])),
     "port 5000 has targetPort 'http', a name"),
    (local_service(), "cluster1: the egress gateway Service istio-private-gateways/istio-private-egressgateway has no "
                      "ClusterIP yet"),
])
def test_a_local_copy_or_egress_a_balanced_import_cannot_use_is_named(services, message):
    federation = build_model(balanced(mode="failover"), settings())
    with pytest.raises(LocalCopyError) as caught:
        read_balance_inputs(Reads(services), federation, "cluster1")
    assert message in str(caught.value)


def test_a_preflight_takes_a_placeholder_for_an_egress_gateway_not_made_yet():
    federation = build_model(balanced(mode="failover"), settings())
    inputs = read_balance_inputs(Reads(local_service()), federation, "cluster1", placeholders=True)
    assert inputs.egress_address == PLACEHOLDER_ADDRESS


def test_the_hosts_of_a_balanced_imports_destinations_are_claimed_and_the_egress_rule_is_not():
    federation = build_model(balanced(mode="failover"), settings())
    claims = host_claims(federation, "cluster1")
    assert sorted((c.kind, c.host) for c in claims) == [
        ("DestinationRule", "local.hw.default.meshfed.internal"),
        ("VirtualService", "hw.default.svc.cluster.local")]


# --- what serves, as status.yml and the report show it ----------------------------------------------------------

def summary_of(clusters):
    federation = build_model(clusters, settings())
    return import_summary(federation.clusters["cluster1"].imports[0])


@pytest.mark.parametrize("local_ready, links, serving_now, failing_over", [
    (2, {"cluster2": {"down": False}, "cluster3": {"down": False}}, ["local"], False),
    (0, {"cluster2": {"down": False}, "cluster3": {"down": False}}, ["cluster2"], True),
    (0, {"cluster2": {"down": True}, "cluster3": {"down": False}}, ["cluster3"], True),
    (0, {"cluster2": None, "cluster3": None}, ["cluster2"], True),   # not probed: counted as up
    (0, {"cluster2": {"down": True}, "cluster3": {"drained": True}}, [], True),
])
def test_failover_serves_the_first_destination_up_in_its_order(local_ready, links, serving_now, failing_over):
    summary = summary_of(balanced(mode="failover"))
    assert (summary["mode"], summary["order"]) == ("failover", ["local", "cluster2", "cluster3"])
    seen = serving(summary, destination_health(local_ready, links))
    assert (seen["serving"], seen["failing_over"]) == (serving_now, failing_over)


def test_weighted_serves_what_is_up_of_its_weighted_destinations_and_split_keeps_sending_to_a_failing_one():
    clusters = balanced(mode="weighted")
    hw = clusters["cluster1"]["imports"][0]
    hw["local"]["weight"], hw["from"][0]["weight"], hw["from"][1]["weight"] = 50, 50, 0
    summary = summary_of(clusters)
    assert summary["weights"] == {"local": 50, "cluster2": 50, "cluster3": 0}
    links = {"cluster2": {"down": True}, "cluster3": {"down": False}}
    seen = serving(summary, destination_health(3, links))
    assert (seen["serving"], seen["failing_over"], seen["failing"]) == (["local"], True, ["cluster2"])
    seen = serving(summary, destination_health(0, links))
    assert (seen["serving"], seen["failing_over"]) == (["cluster3"], True)
    hw["mode"] = "split"
    seen = serving(summary_of(clusters), destination_health(None, links))
    assert (seen["serving"], seen["failing_over"], seen["failing"]) == (["local"], False, ["cluster2"])


def test_the_report_shows_an_import_failing_over_at_a_glance():
    summary = summary_of(balanced(mode="failover"))
    summary.update(serving(summary, destination_health(0, {"cluster2": {"down": False}, "cluster3": None})))
    assert mode_text(summary) == "failover: local > cluster2 > cluster3"
    assert serving_text(summary) == ("cluster2 (failing over: local down)", "down")
    summary.update(serving(summary, destination_health(1, {"cluster2": {"down": False}, "cluster3": None})))
    assert serving_text(summary) == ("local", None)


def test_the_ready_pods_of_a_local_copy_are_those_its_selector_and_subset_pick():
    def pod(ready, **labels):
        return {"metadata": {"labels": labels}, "status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True" if ready else "False"}]}}
    pods = [pod(True, app="hw", version="v1"), pod(False, app="hw", version="v1"), pod(True, app="hw", version="v2"),
            pod(True, app="other", version="v1")]
    assert ready_pods(pods, {"app": "hw", "version": "v1"}) == 1
    assert ready_pods(pods, {"app": "hw"}) == 2


def test_a_sidecar_hiding_a_balanced_imports_destinations_is_found_and_the_egress_host_is_not_asked_for():
    federation = build_model(balanced(mode="failover"), settings())
    sidecar = {"metadata": {"name": "narrow", "namespace": "default"},
               "spec": {"egress": [{"hosts": ["./hw.default.svc.cluster.local", "istio-system/*"]}]}}
    observed = Observed({}, "", "istio-system/istio", [sidecar], {}, [], False)
    (finding,) = sidecar_findings(federation, "cluster1", observed, {})
    assert finding.blocking and "leave out the destinations of import default/hw (local.hw.default.meshfed.internal)" \
        in finding.message and "egress gateway" not in finding.message, finding
    sidecar["spec"]["egress"][0]["hosts"].append("./*")
    assert not sidecar_findings(federation, "cluster1", observed, {})
