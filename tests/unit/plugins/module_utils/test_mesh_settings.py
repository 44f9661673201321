# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mesh settings a federation cannot work with: the pure findings of each role (mesh_settings.py), what the roles
read for them, how a blocking one stops the preflight of every cluster and the role's own apply, and what is
rendered instead where it can be (the egress gateway's Service exportTo and proxy config, the import's Service)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.module_backends import cluster_role
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.service_export import run_service_export
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.service_import import run_service_import
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import (
    SERVICE_EXPORT_MODULE, SERVICE_IMPORT_MODULE)
from ansible_collections.meshfed.federation.plugins.module_utils.kube.kinds import cluster_role_rules
from ansible_collections.meshfed.federation.plugins.module_utils.kube.mesh_settings import (
    EXPORT_TO, PROXY_CONFIG, Observed, applicable_sidecars, export_findings, import_findings, mesh_config_name,
    scopes_gateways, sidecar_covers, visible_to)
from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.plugin_utils.preflight_verdict import preflight_failure
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import (
    EGRESS, gateway_service_fqdn, INGRESS)
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import (
    gateway_pod_labels, render_gateways)
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_import import render_imports
from ansible_collections.meshfed.federation.plugins.plugin_utils.in_process import run_in_process
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.scenarios import (
    CREDENTIAL, seed, settings, three_clusters)
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.test_runner import FakeClient

GATEWAY_NS = "istio-private-gateways"
EGRESS_FQDN = "istio-private-egressgateway.istio-private-gateways.svc.cluster.local"
AMBIENT = {"istio.io/dataplane-mode": "ambient"}


def federation(clusters=None, **values):
    return build_model(clusters or seed(), settings(**values))


def observed(namespaces=None, mesh=None, sidecars=(), services=None, ref="istio-system/istio"):
    return Observed(namespaces or {}, mesh, ref, list(sidecars), services or {})


def sidecar(name, namespace, hosts=None, selector=None):
    spec = {}
    if hosts is not None:
        spec["egress"] = [{"hosts": list(hosts)}]
    if selector:
        spec["workloadSelector"] = {"labels": selector}
    return {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def service(namespace, name, export_to=None):
    meta = {"name": name, "namespace": namespace}
    if export_to is not None:
        meta["annotations"] = {EXPORT_TO: export_to}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {}}


def exported_services(**annotations):
    """Both exported Services of the seed's cluster2 (bookinfo/myreviews, bookinfo/details), annotated as given."""
    return {("bookinfo", "myreviews"): service("bookinfo", "myreviews", annotations.get("myreviews")),
            ("bookinfo", "details"): service("bookinfo", "details", annotations.get("details"))}


def messages(findings, blocking=True):
    return [f.message for f in findings if f.blocking == blocking]


# --- 1. ambient namespaces ---

def test_an_importing_namespace_in_ambient_mode_blocks_naming_the_namespace_the_imports_and_what_to_do():
    findings = import_findings(federation(), "cluster1", observed({"default": AMBIENT}))
    assert len(findings) == 1 and findings[0].blocking and findings[0].setting == "ambient namespace"
    message = findings[0].message
    for part in ("namespace default is in ambient mode (label istio.io/dataplane-mode=ambient)",
                 "meshfed_imports[0] (reviews), meshfed_imports[1] (details) imports there",
                 "ztunnel applies no VirtualService, DestinationRule or SNI",
                 "kubectl label namespace default istio.io/dataplane-mode=none --overwrite",
                 "istio-injection=enabled", "import into a namespace whose pods have sidecars"):
        assert part in message, (part, message)


def test_an_exporting_namespace_in_ambient_mode_blocks_naming_the_exports():
    findings = export_findings(federation(), "cluster2", observed({"bookinfo": AMBIENT}, services=exported_services()))
    assert [f.setting for f in findings] == ["ambient namespace"] and findings[0].blocking
    assert "meshfed_exports[0] (reviews-v2), meshfed_exports[1] (details) exports there" in findings[0].message
    assert "waypoint" in findings[0].message and "istio.io/dataplane-mode=none" in findings[0].message


def test_sidecar_namespaces_and_other_dataplane_modes_are_fine():
    for labels in ({}, {"istio-injection": "enabled"}, {"istio.io/dataplane-mode": "none"}, None):
        assert import_findings(federation(), "cluster1", observed({"default": labels})) == []
        seen = observed({"bookinfo": labels}, services=exported_services())
        assert export_findings(federation(), "cluster2", seen) == []


# --- 2. gatewayTopology.proxyProtocol ---

PROXY_PROTOCOL_MESH = "defaultConfig:\n  gatewayTopology:\n    proxyProtocol: {}\n    numTrustedProxies: 1\n"


def test_a_mesh_wide_proxy_protocol_only_warns_where_the_cluster_exports():
    findings = export_findings(federation(), "cluster2", observed(mesh=PROXY_PROTOCOL_MESH, services=exported_services(),
                                                                  ref="istio-system/istio-canary"))
    assert [(f.blocking, f.setting) for f in findings] == [(False, "gatewayTopology.proxyProtocol")]
    assert findings[0].message.startswith("the mesh config (ConfigMap istio-system/istio-canary) sets "
                                          "defaultConfig.gatewayTopology.proxyProtocol")
    assert "unless a load balancer in front of the gateway adds it" in findings[0].message
    # the importing side renders around it: nothing to say there
    assert import_findings(federation(), "cluster1", observed(mesh=PROXY_PROTOCOL_MESH)) == []


def test_the_egress_gateway_pods_replace_the_mesh_gateway_topology_and_the_ingress_keeps_it():
    objects = render_gateways(federation(three_clusters()), "cluster2", CREDENTIAL)
    deployments = dict((o["metadata"]["name"], o) for o in objects if o["kind"] == "Deployment")
    egress = deployments["istio-private-egressgateway"]["spec"]["template"]["metadata"]["annotations"]
    ingress = deployments["istio-private-ingressgateway"]["spec"]["template"]["metadata"]["annotations"]
    assert egress[PROXY_CONFIG] == "gatewayTopology: {}"
    assert PROXY_CONFIG not in ingress


def test_the_mesh_config_name_follows_the_revision():
    assert mesh_config_name(federation().settings) == "istio"
    assert mesh_config_name(federation(istio_revision="canary").settings) == "istio-canary"


def test_a_mesh_config_that_is_not_yaml_warns_and_istios_defaults_are_assumed():
    findings = import_findings(federation(), "cluster1", observed(mesh="defaultConfig: [unclosed"))
    assert [(f.blocking, f.setting) for f in findings] == [(False, "mesh config")]
    assert "ConfigMap istio-system/istio cannot be read" in findings[0].message


# --- 3. defaultServiceExportTo ---

def test_the_egress_gateway_service_is_exported_to_its_namespace_and_the_importing_ones():
    for clusters, name, expected in ((seed(), "cluster1", ".,default"), (three_clusters(), "cluster2", ".,apps")):
        objects = render_gateways(federation(clusters), name, CREDENTIAL)
        services = dict((o["metadata"]["name"], o) for o in objects if o["kind"] == "Service")
        assert services["istio-private-egressgateway"]["metadata"]["annotations"] == {EXPORT_TO: expected}
        assert "annotations" not in services.get("istio-private-ingressgateway", {"metadata": {}})["metadata"]


def test_the_imports_own_service_is_exported_everywhere_whatever_the_mesh_default():
    objects = render_imports(federation(), "cluster1", {"cluster2": federation().clusters["cluster2"].gateway_address})
    service_objects = [o for o in objects if o["kind"] == "Service"]
    assert [(o["metadata"]["name"], o["metadata"]["annotations"]) for o in service_objects] == [
        ("details", {EXPORT_TO: "*"})]


def test_a_default_service_export_to_that_hides_an_exported_service_from_the_gateway_blocks():
    for default in ('["."]', '["~"]', '["default", "other"]'):
        findings = export_findings(federation(), "cluster2", observed(
            mesh="defaultServiceExportTo: %s\n" % default, services=exported_services(details="*")))
        assert [(f.blocking, f.setting) for f in findings] == [(True, "defaultServiceExportTo")], default
        message = findings[0].message
        for part in ("meshfed_exports[0] (reviews-v2) exports Service bookinfo/myreviews",
                     "the mesh config (ConfigMap istio-system/istio) sets defaultServiceExportTo",
                     "hides it from the private ingress gateway's namespace %s" % GATEWAY_NS,
                     "kubectl annotate service -n bookinfo myreviews %s=.,%s" % (EXPORT_TO, GATEWAY_NS)):
            assert part in message, (part, message)
    for default in ('["*"]', '[".", "istio-private-gateways"]', "[]"):
        assert export_findings(federation(), "cluster2", observed(
            mesh="defaultServiceExportTo: %s\n" % default, services=exported_services())) == [], default


# --- 4. an exported Service's own exportTo ---

def test_an_exported_service_hidden_from_the_gateway_namespace_blocks_and_is_left_as_it_is():
    findings = export_findings(federation(), "cluster2", observed(services=exported_services(details=".")))
    assert [(f.blocking, f.setting) for f in findings] == [(True, "Service exportTo")]
    message = findings[0].message
    for part in ("meshfed_exports[1] (details) exports Service bookinfo/details, annotated %s: '.'" % EXPORT_TO,
                 "hides it from the private ingress gateway's namespace %s" % GATEWAY_NS, "503",
                 "meshfed does not change your Service: add %s to its exportTo" % GATEWAY_NS,
                 "kubectl annotate service -n bookinfo details %s=.,%s --overwrite" % (EXPORT_TO, GATEWAY_NS)):
        assert part in message, (part, message)
    listed = export_findings(federation(), "cluster2", observed(services=exported_services(details="., team-a")))
    assert "%s=.,%s,team-a" % (EXPORT_TO, GATEWAY_NS) in listed[0].message


def test_an_exported_service_visible_to_the_gateway_namespace_is_fine_whatever_the_mesh_default():
    for export_to in ("*", "istio-private-gateways", ".,istio-private-gateways"):
        findings = export_findings(federation(), "cluster2", observed(
            mesh="defaultServiceExportTo: ['.']", services=exported_services(details=export_to, myreviews=export_to)))
        assert findings == [], export_to
    # a Service that is not there is not a mesh setting
    assert export_findings(federation(), "cluster2", observed(mesh="defaultServiceExportTo: ['.']")) == []


def test_visibility_reads_exportto_as_istio_does():
    assert visible_to(["*"], "a", "b") and visible_to(["b"], "a", "b") and visible_to(["."], "a", "a")
    assert not visible_to(["."], "a", "b") and not visible_to(["~"], "a", "a") and not visible_to(["c"], "a", "b")


# --- 5. Sidecars ---

def test_a_namespace_sidecar_without_the_gateway_namespace_blocks_naming_it_and_the_entry_to_add():
    findings = import_findings(federation(), "cluster1", observed(
        sidecars=[sidecar("default", "default", ["./*", "istio-system/*"])]))
    assert [(f.blocking, f.setting) for f in findings] == [(True, "Sidecar egress hosts")]
    message = findings[0].message
    for part in ("Sidecar default/default applies to every pod of namespace default",
                 "leave out the egress gateway (%s)" % EGRESS_FQDN, "503",
                 "Add %s/* (or %s/%s) to its egress hosts" % (GATEWAY_NS, GATEWAY_NS, EGRESS_FQDN)):
        assert part in message, (part, message)


def test_a_sidecar_leaving_out_its_own_namespace_misses_the_local_names_too():
    findings = import_findings(federation(), "cluster1", observed(sidecars=[sidecar("s", "default", ["istio-system/*"])]))
    message = findings[0].message
    assert ("the local name of import default/reviews (reviews.default.svc.cluster.local)" in message and
            "./details.default.svc.cluster.local (or ./*)" in message), message


def test_sidecar_entries_that_let_the_egress_gateway_through():
    for hosts in (["./*", "istio-private-gateways/*"], ["*/*"], ["./*", "*/%s" % EGRESS_FQDN],
                  ["./*", "istio-private-gateways/*.svc.cluster.local"], None):
        assert import_findings(federation(), "cluster1", observed(sidecars=[sidecar("s", "default", hosts)])) == [], hosts
    for hosts in (["./*", "~/*"], ["./*", "istio-private-gateways/other.example.com"], ["./*", "bookinfo/*"],
                  ["./*", "istio-private-egressgateway"]):
        assert messages(import_findings(federation(), "cluster1", observed(sidecars=[sidecar("s", "default", hosts)]))), hosts


def test_the_root_namespace_sidecar_applies_where_a_namespace_has_none_of_its_own():
    root = sidecar("default", "istio-system", ["./*", "istio-system/*"])
    findings = import_findings(federation(), "cluster1", observed(sidecars=[root]))
    assert messages(findings)[0].startswith("Sidecar istio-system/default of the root namespace istio-system applies to "
                                            "namespace default, which has no Sidecar of its own")
    # "./*" in the root Sidecar means the namespace it applies to: the local names are seen
    assert "local name" not in messages(findings)[0]
    # a namespace's own Sidecar without workloadSelector overrides it
    own = sidecar("mine", "default", ["./*", "istio-private-gateways/*"])
    assert import_findings(federation(), "cluster1", observed(sidecars=[root, own])) == []
    # the mesh config names the root namespace
    moved = sidecar("default", "mesh-root", ["./*"])
    seen = observed(mesh="rootNamespace: mesh-root", sidecars=[moved])
    assert messages(import_findings(federation(), "cluster1", seen))
    assert import_findings(federation(), "cluster1", observed(sidecars=[moved])) == []


def test_a_sidecar_with_a_workload_selector_only_warns():
    selecting = sidecar("frontend", "default", ["./*"], selector={"app": "productpage"})
    findings = import_findings(federation(), "cluster1", observed(sidecars=[selecting]))
    assert [(f.blocking, f.setting) for f in findings] == [(False, "Sidecar egress hosts")]
    assert ("Sidecar default/frontend selects the pods of namespace default labelled app=productpage"
            in findings[0].message and "meshfed cannot tell whether they call it" in findings[0].message)
    # it does not override the namespace-wide one, which still counts
    wide = sidecar("default", "default", ["./*"])
    assert [f.blocking for f in import_findings(federation(), "cluster1", observed(sidecars=[wide, selecting]))] == [
        True, False]


def test_which_sidecars_apply_and_what_their_hosts_cover():
    root, own = sidecar("r", "istio-system", ["*/*"]), sidecar("o", "default", ["./*"])
    picky = sidecar("p", "default", ["./*"], selector={"app": "x"})
    assert applicable_sidecars([root, own, picky], "default", "istio-system") == ([own], [picky])
    assert applicable_sidecars([root, picky], "default", "istio-system") == ([root], [picky])
    assert applicable_sidecars([root], "istio-system", "istio-system") == ([root], [])
    assert sidecar_covers(["./*"], "default", "default", "x.default.svc.cluster.local")
    assert not sidecar_covers(["./*"], "default", "other", "x.other.svc.cluster.local")
    assert gateway_service_fqdn(EGRESS, federation().settings) == EGRESS_FQDN


# --- the verdict, the reads, the role's own stop ---

def test_the_preflight_verdict_names_mesh_settings_and_stops_every_cluster():
    def result(cluster, reasons, in_the_way, settings_blocking):
        return {"cluster": cluster, "preflight": True, "blocked": True, "in_the_way": in_the_way,
                "conflict_reasons": reasons, "mesh_settings": [{"blocking": settings_blocking}]}
    only = preflight_failure([("cluster1", [result("cluster1", "Mesh settings meshfed cannot work with: x.", False,
                                                   True)]), ("cluster2", [])])
    assert only == ("Mesh settings meshfed cannot work with are in cluster1 (1 of the 2 clusters the preflight read), "
                    "so this run changes no cluster. cluster cluster1: Mesh settings meshfed cannot work with: x. "
                    "Nothing was changed.")
    both = preflight_failure([("cluster1", [result("cluster1", "a", True, False), result("cluster1", "b", False, True)])])
    assert both.startswith("Objects are in the way or mesh settings meshfed cannot work with are in cluster1")


class MeshClient(FakeClient):
    """An in-memory cluster with a mesh config, namespaces, Services and Sidecars; records its GETs."""

    def __init__(self, mesh=None, namespaces=None, services=(), sidecars=()):
        super(MeshClient, self).__init__(list(sidecars))
        self.mesh = mesh
        self.namespaces = namespaces or {}
        self.services = dict(((s["metadata"]["namespace"], s["metadata"]["name"]), s) for s in services)
        self.gets = []

    def get(self, obj):
        self.requests["get"] += 1
        meta = obj["metadata"]
        self.gets.append((obj["kind"], meta.get("namespace"), meta["name"]))
        if obj["kind"] == "ConfigMap" and self.mesh is not None:
            return {"metadata": meta, "data": {"mesh": self.mesh}}
        if obj["kind"] == "Namespace" and meta["name"] in self.namespaces:
            return {"metadata": {"name": meta["name"], "labels": self.namespaces[meta["name"]]}}
        if obj["kind"] == "Service":
            return self.services.get((meta.get("namespace"), meta["name"]))
        return None

    def list_namespace(self, api_version, kind, namespace):
        if kind == "Service":
            self.requests["list"] += 1
            self.namespace_lists.append((api_version, kind, namespace))
            return [s for (ns, dummy), s in sorted(self.services.items()) if ns == namespace]
        return super(MeshClient, self).list_namespace(api_version, kind, namespace)

    def apply(self, obj, force_conflicts=False):
        self.requests["apply"] += 1
        return obj


def run_role(monkeypatch, spec, run, cluster, client, preflight=False, force=False, **values):
    monkeypatch.setattr(cluster_role, "kubernetes_missing", lambda: None)
    monkeypatch.setattr(cluster_role, "ClusterClient", lambda name, auth: client)
    args = dict(federation={"clusters": seed(), "settings": settings(federation_name="demo", **values)}, cluster=cluster,
                preflight=preflight, force=force)
    return run_in_process(spec, run, args, check_mode=False, diff=False)


@pytest.mark.parametrize("preflight", [True, False])
def test_an_ambient_importing_namespace_stops_the_import_role_before_any_write(monkeypatch, preflight):
    client = MeshClient(namespaces={"default": AMBIENT})
    result = run_role(monkeypatch, SERVICE_IMPORT_MODULE, run_service_import, "cluster1", client, preflight)
    assert client.requests["apply"] + client.requests["delete"] == 0
    assert ("ConfigMap", "istio-system", "istio") in client.gets and ("Namespace", None, "default") in client.gets
    assert [f["setting"] for f in result["mesh_settings"]] == ["ambient namespace"]
    if preflight:
        assert result["blocked"] and not result["in_the_way"] and not result.get("failed")
        text = result["conflict_reasons"]
    else:
        # meshfed_preflight=false: the role's own plan stops, as it does on conflicts
        assert result["failed"] and not result.get("changed")
        text = result["msg"]
        assert text.startswith("cluster cluster1: Mesh settings meshfed cannot work with: namespace default is in ambient")
        assert text.endswith("Nothing was changed.")
    assert "meshfed_imports[1] (details)" in text


def test_the_export_role_reads_its_services_and_the_revision_mesh_config_and_warns(monkeypatch):
    client = MeshClient(mesh=PROXY_PROTOCOL_MESH, services=exported_services().values())
    result = run_role(monkeypatch, SERVICE_EXPORT_MODULE, run_service_export, "cluster2", client,
                      istio_revision="canary")
    assert not result.get("failed"), result.get("msg")
    assert ("ConfigMap", "istio-system", "istio-canary") in client.gets
    # the exported Services: one LIST of their namespace, whatever the number of exports there
    assert [k for k in client.namespace_lists if k[1] == "Service"] == [("v1", "Service", "bookinfo")]
    assert ("Namespace", None, "bookinfo") in client.gets and not [g for g in client.gets if g[0] == "Service"]
    assert [w for w in result["warnings"] if w.startswith("cluster cluster2: the mesh config (ConfigMap "
                                                          "istio-system/istio-canary) sets "
                                                          "defaultConfig.gatewayTopology.proxyProtocol")]
    assert client.requests["apply"] > 0  # a warning does not stop the role


def test_a_hidden_exported_service_stops_the_export_role_even_when_forced(monkeypatch):
    client = MeshClient(services=exported_services(details=".").values())
    result = run_role(monkeypatch, SERVICE_EXPORT_MODULE, run_service_export, "cluster2", client, force=True)
    assert result["failed"] and "Service bookinfo/details" in result["msg"]
    assert client.requests["apply"] + client.requests["delete"] == 0


def test_the_rbac_reads_the_mesh_config_by_name_and_lists_sidecars_only():
    rules = cluster_role_rules()
    assert {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["istio"]} in rules
    assert {"apiGroups": ["networking.istio.io"], "resources": ["sidecars"], "verbs": ["list"]} in rules


def gateway(namespace, name, selector, labels=None):
    meta = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": meta,
            "spec": {"selector": selector} if selector is not None else {}}


def test_a_gateway_of_someone_else_that_selects_a_federation_gateway_blocks_its_role():
    fed = federation(federation_name="demo")
    pods = [("private ingress gateway", gateway_pod_labels(INGRESS, fed.settings))]
    ours = {"app.kubernetes.io/managed-by": "meshfed", "meshfed.io/federation": "demo"}
    another_federations = {"app.kubernetes.io/managed-by": "meshfed", "meshfed.io/federation": "other"}
    gateways = [
        gateway(GATEWAY_NS, "meshfed-export-details", {"istio": "private-ingressgateway"}, ours),
        gateway("tenant", "wide", {"istio": "private-ingressgateway"}),
        gateway("tenant", "every-gateway-pod", None),
        gateway("other-gateways", "theirs", {"istio": "private-ingressgateway",
                                             "meshfed.io/gateway-namespace": "other-gateways"}, another_federations),
        gateway("tenant", "elsewhere", {"istio": "ingressgateway"}),
        gateway("tenant", "looks-like-ours", {"istio": "private-ingressgateway"}, ours),
    ]
    findings = export_findings(fed, "cluster2", observed(services=exported_services())._replace(gateways=gateways),
                               gateway_pods=pods)
    selectors = [f for f in findings if f.setting == "Gateway selector"]
    assert [f.blocking for f in selectors] == [True, True, True]
    assert selectors[0].message.startswith("Gateway tenant/wide selects the pods of meshfed's private ingress gateway "
                                           "(selector istio=private-ingressgateway)")
    assert "(selector empty: every gateway pod)" in selectors[1].message
    assert selectors[2].message.startswith("Gateway tenant/looks-like-ours selects")  # our labels, not our namespace
    # one in the gateway namespace is an object in the way (the plan reports it) or the administrator's
    in_place = export_findings(fed, "cluster2", observed(services=exported_services())._replace(
        gateways=[gateway(GATEWAY_NS, "left-here", {"app": "istio-private-ingressgateway"})]), gateway_pods=pods)
    assert [f for f in in_place if f.setting == "Gateway selector"] == []
    # istiod scoping Gateways to their own namespace: none of another namespace selects them
    scoped = export_findings(fed, "cluster2", observed(services=exported_services())._replace(
        gateways=gateways, gateway_scoped=True), gateway_pods=pods)
    assert [f for f in scoped if f.setting == "Gateway selector"] == []


def test_istiod_scopes_gateways_only_when_its_deployment_says_so():
    def istiod(env):
        return {"spec": {"template": {"spec": {"containers": [{"name": "discovery", "env": env}]}}}}
    assert scopes_gateways(istiod([{"name": "PILOT_SCOPE_GATEWAY_TO_NAMESPACE", "value": "true"}]))
    assert not scopes_gateways(istiod([{"name": "PILOT_SCOPE_GATEWAY_TO_NAMESPACE", "value": "false"}]))
    assert not scopes_gateways(istiod([])) and not scopes_gateways(None)


def test_the_gateway_pod_labels_are_the_rendered_pods_labels():
    for values in ({}, {"istio_revision": "canary"}):
        fed = federation(**values)
        for direction, cluster in ((INGRESS, "cluster2"), (EGRESS, "cluster1")):
            deployment = [o for o in render_gateways(fed, cluster, CREDENTIAL) if o["kind"] == "Deployment" and
                          o["metadata"]["name"] == "istio-private-%sgateway" % direction][0]
            assert deployment["spec"]["template"]["metadata"]["labels"] == gateway_pod_labels(direction, fed.settings)
