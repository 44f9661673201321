# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mesh settings the lab does not have, set on the lab's clusters one at a time: federate.yml must find each in its
preflight and stop every cluster with a message naming the cluster, the setting and what to do, with nothing of the
federation written anywhere; where meshfed renders around the setting (defaultServiceExportTo on the importing side),
the federation must work: a request from the importing namespace's sidecar gets 200.

The lab's inventory: cluster1 imports reviews and details into ``default`` from cluster2, which exports them from
``bookinfo``. Every test federates under a name of its own, sets the setting, and restores it in a ``finally`` (the
mesh config ConfigMap istio-system/istio is edited and put back as it was). The refusals need only the API servers
and Istio's CRDs (``tools/lab/lab up 2 --no-mesh``); the request needs the lab's mesh (``tools/lab/lab up``).

What the lab cannot show: ambient mode (no ztunnel; only the label is checked) and a mesh-wide PROXY protocol (the
lab starts pilot-agent with a PROXY_CONFIG of its own, not through Istio's injector, so neither the mesh's
defaultConfig nor a pod's proxy.istio.io/config reaches its gateways): for it the test checks the warning on the
exporting cluster and the annotation on the egress gateway's pods only."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json
import uuid

import pytest
import yaml

from ansible_collections.meshfed.federation.tests.integration.playbook_runner import (
    OUR_KINDS, owned_objects, run_playbook, settle_namespace, write_inventory)

pytestmark = pytest.mark.lab

CLUSTERS = ("cluster1", "cluster2")
GATEWAY_NAMESPACE = "istio-private-gateways"
EXPORT_TO = "networking.istio.io/exportTo"
AMBIENT_LABEL = "istio.io/dataplane-mode"
DETAILS = "details.default.svc.cluster.local"
EGRESS = "istio-private-egressgateway"


def configured_address(hosts):
    # a configured peer address: no load balancer waited for (the refusals need no mesh)
    hosts["cluster2"]["meshfed_gateway_address"] = {"address": "172.31.2.100", "port": 15443}


def federate(lab, inventory, *extra):
    return run_playbook("federate.yml", inventory, *extra, env={"MESHFED_LAB_DIR": lab.dir}, timeout=900)


@pytest.fixture(scope="module")
def sample_apps(lab, tmp_path_factory):
    directory = write_inventory(str(tmp_path_factory.mktemp("apps")), lab.kubeconfig, "meshset-apps")
    apps = run_playbook("lab_sample_apps.yml", directory, "--limit", ",".join(CLUSTERS))
    assert apps.rc == 0, apps.stdout[-3000:] + apps.stderr[-3000:]


def new_federation(lab, tmp_path, mutate=configured_address):
    for context in CLUSTERS:
        settle_namespace(lab, context, GATEWAY_NAMESPACE)  # the previous test's may still be going away
    name = "meshset-" + uuid.uuid4().hex[:6]
    return name, write_inventory(str(tmp_path / "inventory"), lab.kubeconfig, name, mutate)


@pytest.fixture
def federation(lab, sample_apps, tmp_path):
    """(name, inventory) of a federation of this test only, the cluster2 gateway address configured; unfederated
    afterwards."""
    name, directory = new_federation(lab, tmp_path)
    yield name, directory
    done = run_playbook("unfederate.yml", directory, env={"MESHFED_LAB_DIR": lab.dir}, timeout=900)
    assert done.rc == 0, done.stdout[-3000:] + done.stderr[-3000:]


# --- setting and restoring ---

@contextlib.contextmanager
def namespace_label(lab, context, namespace, key, value):
    before = json.loads(lab.kubectl(context, "get", "namespace", namespace, "-o", "json"))["metadata"].get("labels") or {}
    lab.kubectl(context, "label", "namespace", namespace, "%s=%s" % (key, value), "--overwrite")
    try:
        yield
    finally:
        if key in before:
            lab.kubectl(context, "label", "namespace", namespace, "%s=%s" % (key, before[key]), "--overwrite")
        else:
            lab.kubectl(context, "label", "namespace", namespace, key + "-")


@contextlib.contextmanager
def service_annotation(lab, context, namespace, name, key, value):
    live = json.loads(lab.kubectl(context, "get", "service", name, "-n", namespace, "-o", "json"))
    before = (live["metadata"].get("annotations") or {}).get(key)
    lab.kubectl(context, "annotate", "service", name, "-n", namespace, "%s=%s" % (key, value), "--overwrite")
    try:
        yield
    finally:
        if before is None:
            lab.kubectl(context, "annotate", "service", name, "-n", namespace, key + "-")
        else:
            lab.kubectl(context, "annotate", "service", name, "-n", namespace, "%s=%s" % (key, before), "--overwrite")


def mesh_config(lab, context):
    """The ConfigMap istio-system/istio as it is."""
    return json.loads(lab.kubectl(context, "get", "configmap", "istio", "-n", "istio-system", "-o", "json"))


@contextlib.contextmanager
def mesh_setting(lab, context, change):
    """The mesh config of ``context`` with ``change(mesh dict)`` applied, put back as it was afterwards (its text,
    or no key ``mesh`` at all)."""
    data = mesh_config(lab, context).get("data") or {}
    original = data.get("mesh")
    mesh = yaml.safe_load(original or "") or {}
    change(mesh)
    patch = {"data": {"mesh": yaml.safe_dump(mesh, default_flow_style=False)}}
    lab.kubectl(context, "patch", "configmap", "istio", "-n", "istio-system", "--type", "merge", "-p", json.dumps(patch))
    try:
        yield
    finally:
        restore = {"data": {"mesh": original}}  # null removes a key that was not there
        lab.kubectl(context, "patch", "configmap", "istio", "-n", "istio-system", "--type", "merge", "-p",
                    json.dumps(restore))
        assert (mesh_config(lab, context).get("data") or {}).get("mesh") == original


@contextlib.contextmanager
def user_object(lab, context, manifest):
    lab.kubectl(context, "apply", "-f", "-", input=yaml.safe_dump(manifest))
    try:
        yield
    finally:
        lab.kubectl(context, "delete", "sidecars.networking.istio.io", manifest["metadata"]["name"], "-n",
                    manifest["metadata"]["namespace"], "--ignore-not-found")


def sidecar(name, namespace, hosts):
    return {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
            "metadata": {"name": name, "namespace": namespace, "labels": {"team": "bookinfo"}},
            "spec": {"egress": [{"hosts": hosts}]}}


# --- what a refusal looks like ---

def preflights(run):
    return dict(((host, res["role"]), res) for dummy, host, res in run.task_results(preflight=True) if "role" in res)


def assert_refused(lab, run, federation_name, blocked, parts):
    """The run stopped at the preflight: ``blocked`` (cluster, role) only, the message holds ``parts``, no role ran
    after it, and no object of the federation is in any cluster."""
    assert run.rc != 0, run.stdout[-5000:]
    assert "Traceback" not in run.stdout + run.stderr
    message = run.failure()
    assert message.startswith("Mesh settings meshfed cannot work with are in %s " % blocked[0]), message
    for part in parts + ["cluster %s: " % blocked[0], "Nothing was changed."]:
        assert part in message, (part, message)
    results = preflights(run)
    assert [key for key, res in sorted(results.items()) if res["blocked"]] == [blocked], results
    res = results[blocked]
    assert not res["in_the_way"] and [f for f in res["mesh_settings"] if f["blocking"]], res
    assert res["api_requests"]["apply"] + res["api_requests"]["delete"] == 0
    for module in ("private_gateway", "service_export", "service_import"):
        assert list(run.task_results(module)) == [], module
    for cluster in CLUSTERS:
        assert owned_objects(lab, cluster, federation_name, OUR_KINDS) == [], cluster
    return message


# --- 1. ambient ---

def test_an_importing_namespace_in_ambient_mode_stops_every_cluster(lab, federation):
    name, inventory = federation
    with namespace_label(lab, "cluster1", "default", AMBIENT_LABEL, "ambient"):
        run = federate(lab, inventory)
    assert_refused(lab, run, name, ("cluster1", "import"), [
        "namespace default is in ambient mode (label istio.io/dataplane-mode=ambient)",
        "meshfed_imports[0] (reviews), meshfed_imports[1] (details) imports there",
        "kubectl label namespace default istio.io/dataplane-mode=none --overwrite"])


def test_an_exporting_namespace_in_ambient_mode_stops_every_cluster(lab, federation):
    name, inventory = federation
    with namespace_label(lab, "cluster2", "bookinfo", AMBIENT_LABEL, "ambient"):
        run = federate(lab, inventory)
    assert_refused(lab, run, name, ("cluster2", "export"), [
        "namespace bookinfo is in ambient mode", "meshfed_exports[0] (reviews-v2), meshfed_exports[1] (details) "
        "exports there", "waypoint"])


def test_without_the_preflight_the_import_role_still_refuses_before_writing_its_objects(lab, federation):
    name, inventory = federation
    with namespace_label(lab, "cluster1", "default", AMBIENT_LABEL, "ambient"):
        run = federate(lab, inventory, "-e", "meshfed_preflight=false")
    assert run.rc != 0
    imports = [res for dummy, host, res in run.task_results("service_import") if host == "cluster1"]
    assert len(imports) == 1 and imports[0]["failed"], run.stdout[-3000:]
    assert imports[0]["msg"].startswith("cluster cluster1: Mesh settings meshfed cannot work with: namespace default "
                                        "is in ambient mode"), imports[0]["msg"]
    assert imports[0]["api_requests"]["apply"] == 0
    # the gateways were applied (their role has no such check); nothing of the imports was
    assert [o for o in owned_objects(lab, "cluster1", name, OUR_KINDS) if o.split("/")[1] == "default"] == []


# --- 2. gatewayTopology.proxyProtocol ---

def set_proxy_protocol(mesh):
    mesh.setdefault("defaultConfig", {}).setdefault("gatewayTopology", {})["proxyProtocol"] = {}


def test_a_mesh_wide_proxy_protocol_warns_on_the_exporter_and_the_egress_gateway_unsets_it(lab, federation):
    name, inventory = federation
    with mesh_setting(lab, "cluster2", set_proxy_protocol), mesh_setting(lab, "cluster1", set_proxy_protocol):
        run = federate(lab, inventory)
    assert run.rc == 0, run.stdout[-5000:]
    exports = [res for dummy, host, res in run.task_results("service_export") if host == "cluster2"]
    warnings = [w for w in exports[0].get("warnings", []) if "gatewayTopology.proxyProtocol" in w]
    assert warnings and warnings[0].startswith("cluster cluster2: the mesh config (ConfigMap istio-system/istio) sets "
                                               "defaultConfig.gatewayTopology.proxyProtocol"), exports[0].get("warnings")
    egress = json.loads(lab.kubectl("cluster1", "get", "deployment", EGRESS, "-n", GATEWAY_NAMESPACE, "-o", "json"))
    assert egress["spec"]["template"]["metadata"]["annotations"]["proxy.istio.io/config"] == "gatewayTopology: {}"


# --- 3. defaultServiceExportTo ---

def set_private_services(mesh):
    mesh["defaultServiceExportTo"] = ["."]


def test_default_service_export_to_on_the_exporter_stops_every_cluster_until_the_services_are_annotated(lab, federation):
    name, inventory = federation
    with mesh_setting(lab, "cluster2", set_private_services):
        run = federate(lab, inventory)
        assert_refused(lab, run, name, ("cluster2", "export"), [
            "meshfed_exports[0] (reviews-v2) exports Service bookinfo/myreviews, which has no %s annotation" % EXPORT_TO,
            "sets defaultServiceExportTo: ['.']",
            "kubectl annotate service -n bookinfo details %s=.,%s" % (EXPORT_TO, GATEWAY_NAMESPACE)])
        visible = ".,%s" % GATEWAY_NAMESPACE
        with service_annotation(lab, "cluster2", "bookinfo", "myreviews", EXPORT_TO, visible), \
                service_annotation(lab, "cluster2", "bookinfo", "details", EXPORT_TO, visible):
            converged = federate(lab, inventory)
            assert converged.rc == 0, converged.stdout[-5000:]


@pytest.fixture
def mesh_federation(lab, sample_apps, tmp_path):
    """A federation on the lab's mesh (cluster2's gateway address discovered), and cluster1's productpage proxy."""
    from ansible_collections.meshfed.federation.tests.integration.mesh import Mesh
    mesh = Mesh(lab)
    if not mesh.state:
        pytest.skip("needs the lab's mesh (tools/lab/lab up)")
    name, directory = new_federation(lab, tmp_path, mutate=None)
    yield name, directory, mesh
    done = run_playbook("unfederate.yml", directory, env={"MESHFED_LAB_DIR": lab.dir}, timeout=900)
    assert done.rc == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_default_service_export_to_on_the_importer_is_rendered_around_and_the_import_answers(lab, mesh_federation):
    from ansible_collections.meshfed.federation.tests.integration.mesh import until, via_sidecar
    name, inventory, mesh = mesh_federation
    with mesh_setting(lab, "cluster1", set_private_services):
        run = federate(lab, inventory)
        assert run.rc == 0, run.stdout[-5000:]
        service = json.loads(lab.kubectl("cluster1", "get", "service", EGRESS, "-n", GATEWAY_NAMESPACE, "-o", "json"))
        assert service["metadata"]["annotations"][EXPORT_TO] == ".,default"
        details = json.loads(lab.kubectl("cluster1", "get", "service", "details", "-n", "default", "-o", "json"))
        assert details["metadata"]["annotations"][EXPORT_TO] == "*"
        productpage = mesh.wait_ready("cluster1", "default", "productpage-v1")
        mesh.wait_ready("cluster1", GATEWAY_NAMESPACE, EGRESS)
        mesh.wait_ready("cluster2", GATEWAY_NAMESPACE, "istio-private-ingressgateway")
        until(lambda: via_sidecar(productpage, DETAILS, 9080, "/details/0")[0] == 200, timeout=120)
        assert via_sidecar(productpage, DETAILS, 9080, "/details/1")[0] == 200
        again = federate(lab, inventory)
        assert again.rc == 0 and all(s["changed"] == 0 for s in again.stats().values()), again.stats()


# --- 4. an exported Service's own exportTo ---

def test_an_exported_service_hidden_from_the_gateway_namespace_stops_every_cluster_and_is_left_alone(lab, federation):
    name, inventory = federation
    with service_annotation(lab, "cluster2", "bookinfo", "details", EXPORT_TO, "."):
        before = json.loads(lab.kubectl("cluster2", "get", "service", "details", "-n", "bookinfo", "-o", "json"))
        run = federate(lab, inventory)
        after = json.loads(lab.kubectl("cluster2", "get", "service", "details", "-n", "bookinfo", "-o", "json"))
    assert_refused(lab, run, name, ("cluster2", "export"), [
        "meshfed_exports[1] (details) exports Service bookinfo/details, annotated %s: '.'" % EXPORT_TO,
        "add %s to its exportTo" % GATEWAY_NAMESPACE])
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


# --- 5. Sidecars ---

def test_a_namespace_sidecar_without_the_gateway_namespace_stops_every_cluster(lab, federation):
    name, inventory = federation
    with user_object(lab, "cluster1", sidecar("default", "default", ["./*", "istio-system/*"])):
        run = federate(lab, inventory)
    assert_refused(lab, run, name, ("cluster1", "import"), [
        "Sidecar default/default applies to every pod of namespace default",
        "leave out the egress gateway (%s.%s.svc.cluster.local)" % (EGRESS, GATEWAY_NAMESPACE),
        "Add %s/* (or " % GATEWAY_NAMESPACE])


def test_the_root_namespace_sidecar_counts_where_a_namespace_has_none_and_is_overridden_by_its_own(lab, federation):
    name, inventory = federation
    with user_object(lab, "cluster1", sidecar("default", "istio-system", ["./*", "istio-system/*"])):
        run = federate(lab, inventory)
        assert_refused(lab, run, name, ("cluster1", "import"), [
            "Sidecar istio-system/default of the root namespace istio-system applies to namespace default"])
        with user_object(lab, "cluster1", sidecar("default", "default", ["./*", "%s/*" % GATEWAY_NAMESPACE])):
            converged = federate(lab, inventory)
            assert converged.rc == 0, converged.stdout[-5000:]


# --- a tenant's Gateway selecting meshfed's gateway pods ---

def test_a_tenant_gateway_selecting_the_gateway_pods_stops_the_run(lab, federation):
    """A Gateway in a tenant's namespace (bookinfo) that selects the private ingress gateway's pods: Istio would merge
    its servers into the gateway's listeners (the lab's istiod does not scope Gateways to their namespace)."""
    name, inventory = federation
    tenant_gateway = {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
                      "metadata": {"name": "borrowed", "namespace": "bookinfo"},
                      "spec": {"selector": {"istio": "private-ingressgateway"}, "servers": [
                          {"port": {"number": 15443, "name": "tls", "protocol": "TLS"},
                           "hosts": ["details.c2.example.com"], "tls": {"mode": "PASSTHROUGH"}}]}}
    lab.kubectl("cluster2", "apply", "-f", "-", input=json.dumps(tenant_gateway))
    try:
        run = federate(lab, inventory)
    finally:
        lab.kubectl("cluster2", "delete", "gateways.networking.istio.io", "borrowed", "-n", "bookinfo",
                    "--ignore-not-found")
    assert_refused(lab, run, name, ("cluster2", "export"), [
        "Gateway bookinfo/borrowed selects the pods of meshfed's private ingress gateway "
        "(selector istio=private-ingressgateway)", "PILOT_SCOPE_GATEWAY_TO_NAMESPACE=true"])
