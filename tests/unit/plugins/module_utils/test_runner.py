# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The import role from the module's parameters to its result, against an in-memory cluster: what it reads for
the host check, and how host conflicts stop it (or, forced, only warn)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import yaml

from ansible_collections.meshfed.federation.plugins.module_utils.module_backends import cluster_role, service_export
from ansible_collections.meshfed.federation.plugins.module_utils.observe import discovery
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.private_gateway import (
    discovers_address, run_private_gateway)
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.service_export import run_service_export
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.service_import import run_service_import
from ansible_collections.meshfed.federation.plugins.module_utils.apply.client import ClusterError
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import (
    PRIVATE_GATEWAY_MODULE, SERVICE_EXPORT_MODULE, SERVICE_IMPORT_MODULE)
from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.validated_model import validated
from ansible_collections.meshfed.federation.plugins.module_utils.apply.plan import SPEC_HASH, stamp
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import render_gateways
from ansible_collections.meshfed.federation.plugins.plugin_utils.in_process import run_in_process
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.scenarios import seed, settings


class FakeClient(object):
    """A cluster holding only ``foreign`` objects; records the LISTs of whole namespaces."""

    def __init__(self, foreign):
        self.cluster = "cluster1"
        self.requests = {"list": 0, "get": 0, "apply": 0, "delete": 0}
        self.foreign = foreign
        self.namespace_lists = []

    def resource(self, api_version, kind):
        return (api_version, kind)

    def map_concurrently(self, send, items, concurrency):
        return [send(item) for item in items]

    def list_owned(self, api_version, kind, labels):
        self.requests["list"] += 1
        return []

    def list_namespace(self, api_version, kind, namespace):
        self.requests["list"] += 1
        self.namespace_lists.append((api_version, kind, namespace))
        return [o for o in self.foreign if o["kind"] == kind and namespace in (None, o["metadata"]["namespace"])]

    def list_metadata(self, api_version, kind, namespace=None):
        self.requests["list"] += 1
        return []

    def get(self, obj):
        self.requests["get"] += 1
        return None


def users_rule(name, host, namespace="default"):
    return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}}, "spec": {"host": host}}


def run_import(monkeypatch, foreign, check_mode=True, diff=False, client=None, **params):
    """The service_import module's result (in check mode unless told), as its action plugin computes it."""
    client = client or FakeClient(foreign)
    monkeypatch.setattr(cluster_role, "kubernetes_missing", lambda: None)
    monkeypatch.setattr(cluster_role, "ClusterClient", lambda cluster, auth: client)
    args = dict(federation={"clusters": seed(), "settings": settings(federation_name="demo")}, cluster="cluster1")
    args.update(params)
    return run_in_process(SERVICE_IMPORT_MODULE, run_service_import, args, check_mode=check_mode,
                          diff=diff), client


def test_the_import_role_reads_the_importing_namespaces_and_stops_on_host_conflicts(monkeypatch):
    foreign = [users_rule("mtls", "*.local"), users_rule("details", "details"),
               users_rule("other", "*.local", namespace="bookinfo")]
    result, client = run_import(monkeypatch, foreign)
    # host conflicts: VirtualServices and DestinationRules of the importing namespace; mesh settings: its Sidecars
    # and the root namespace's, and the Gateways of every namespace
    assert sorted(client.namespace_lists, key=str) == [
        ("networking.istio.io/v1", "DestinationRule", "default"), ("networking.istio.io/v1", "Gateway", None),
        ("networking.istio.io/v1", "Sidecar", "default"), ("networking.istio.io/v1", "Sidecar", "istio-system"),
        ("networking.istio.io/v1", "VirtualService", "default")]
    assert result["failed"] and result["conflicts"] == []
    assert [(c["name"], c["host"], c["import_host"]) for c in result["host_conflicts"]] == [
        ("details", "details", "details.default.svc.cluster.local"),
        ("mtls", "*.local", "istio-private-egressgateway.istio-private-gateways.svc.cluster.local")]
    assert result["msg"].startswith("cluster cluster1: Objects not managed by meshfed use hosts of its imports: "
                                    "DestinationRule default/details: host details (for "
                                    "details.default.svc.cluster.local) is the local name of import default/details")
    assert "created" in result and not result.get("changed") and "summary" not in result


def test_a_gateway_of_someone_else_selecting_the_egress_gateway_pods_stops_the_import_role(monkeypatch):
    tenant_gateway = {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
                      "metadata": {"name": "mine", "namespace": "tenant"},
                      "spec": {"selector": {"istio": "private-egressgateway"}, "servers": []}}
    result, client = run_import(monkeypatch, [tenant_gateway])
    assert result["failed"] and result["mesh_settings"][0]["setting"] == "Gateway selector"
    assert "Gateway tenant/mine selects the pods of meshfed's private egress gateway (selector " \
           "istio=private-egressgateway)" in result["msg"]
    assert "PILOT_SCOPE_GATEWAY_TO_NAMESPACE=true" in result["msg"]


def test_roles_without_host_claims_return_no_host_conflicts(monkeypatch):
    result, client = run_import(monkeypatch, [], state="absent")
    assert not result.get("failed") and "host_conflicts" not in result and client.namespace_lists == []


def test_forced_host_conflicts_only_warn(monkeypatch):
    result, client = run_import(monkeypatch, [users_rule("mtls", "*.local")], force=True)
    assert not result.get("failed") and len(result["host_conflicts"]) == 1
    assert result["warnings"][0].startswith(
        "cluster cluster1: Objects not managed by meshfed use hosts of its imports: DestinationRule default/mtls")
    assert "AuthorizationPolicy istio-private-gateways/meshfed-import-default-reviews-cluster2-reviews-v2" in result[
        "created"]
    assert result["summary"].startswith("cluster1 import (check mode): %d objects, would create %d ("
                                        % (len(result["created"]), len(result["created"])))


def test_a_discovered_local_address_fails_the_import_naming_both_clusters(monkeypatch):
    clusters = seed()
    clusters["cluster2"]["gateway_address"] = "discover"
    federation = {"clusters": clusters, "settings": {"federation_name": "demo"}}
    result, client = run_import(monkeypatch, [], federation=federation,
                                peer_addresses={"cluster2": {"address": "127.0.0.42", "port": 15443}})
    assert result["msg"].startswith("cluster cluster1: the private ingress gateway address of cluster 'cluster2' found "
                                    "by discovery (meshfed_gateway_address: discover, field address of its Service's "
                                    "status.loadBalancer.ingress): 127.0.0.42 is a loopback address")
    assert client.requests["list"] == 0


def no_cluster(cluster, auth):
    raise AssertionError("state=rendered contacted cluster %s" % cluster)


def run_rendered(monkeypatch, spec, run, cluster, **params):
    monkeypatch.setattr(cluster_role, "ClusterClient", no_cluster)
    args = dict(federation={"clusters": seed(), "settings": settings(federation_name="demo")}, cluster=cluster,
                state="rendered")
    args.update(params)
    return run_in_process(spec, run, args, check_mode=False, diff=False)


def test_rendered_gateways_leave_the_secret_out_unless_asked_and_contact_no_cluster(monkeypatch, tmp_path):
    result = run_rendered(monkeypatch, PRIVATE_GATEWAY_MODULE, run_private_gateway, "cluster2")
    assert not result.get("failed"), result.get("msg")
    kinds = [o["kind"] for o in result["rendered"]]
    assert "Secret" not in kinds and "Deployment" in kinds and "Namespace" in kinds
    assert all(SPEC_HASH in o["metadata"]["annotations"] for o in result["rendered"])
    assert result["rendered"] == [stamp(o) for o in render_gateways(
        build_model(seed(), settings(federation_name="demo")), "cluster2", None)]
    paths = {}
    for name, text in (("cert_path", "CERT"), ("key_path", "-----BEGIN PRIVATE KEY-----\nKEY"), ("ca_path", "CA")):
        (tmp_path / name).write_text(text)
        paths[name] = str(tmp_path / name)
    missing = run_rendered(monkeypatch, PRIVATE_GATEWAY_MODULE, run_private_gateway, "cluster2",
                           render_secrets=True)
    assert missing["failed"] and "credential" in missing["msg"]
    with_secret = run_rendered(monkeypatch, PRIVATE_GATEWAY_MODULE, run_private_gateway, "cluster2",
                               render_secrets=True, credential=paths)
    secret = [o for o in with_secret["rendered"] if o["kind"] == "Secret"]
    assert len(secret) == 1 and secret[0]["metadata"]["name"] == "c2-example-com-certs"


def test_rendered_imports_need_no_cluster_and_are_what_present_would_apply(monkeypatch):
    result = run_rendered(monkeypatch, SERVICE_IMPORT_MODULE, run_service_import, "cluster1")
    assert not result.get("failed"), result.get("msg")
    assert not result["changed"] and "api_requests" not in result
    names = [(o["kind"], o["metadata"]["name"]) for o in result["rendered"]]
    assert ("VirtualService", "reviews") in names and ("ServiceEntry", "meshfed-peer-cluster2") in names


def test_render_dir_holds_exactly_the_rendered_objects_and_rewrites_only_what_differs(monkeypatch, tmp_path):
    paths = {}
    for name, text in (("cert_path", "CERT"), ("key_path", "-----BEGIN PRIVATE KEY-----\nKEY"), ("ca_path", "CA")):
        (tmp_path / name).write_text(text)
        paths[name] = str(tmp_path / name)
    out = tmp_path / "out"

    def render(check_mode=False):
        monkeypatch.setattr(cluster_role, "ClusterClient", no_cluster)
        args = dict(federation={"clusters": seed(), "settings": settings(federation_name="demo")}, cluster="cluster2",
                    state="rendered", render_dir=str(out), render_secrets=True, credential=paths)
        return run_in_process(PRIVATE_GATEWAY_MODULE, run_private_gateway, args, check_mode=check_mode, diff=False)

    planned = render(check_mode=True)
    assert planned["changed"] and not out.exists()
    first = render()
    role_dir = out / "cluster2" / "gateway"
    assert first["changed"] and first["files"]["directory"] == str(role_dir)
    names = sorted(p.name for p in role_dir.iterdir())
    assert names == first["files"]["written"] == planned["files"]["written"]
    assert len(names) == len(first["rendered"])
    modes = dict((p.name, p.stat().st_mode & 0o777) for p in role_dir.iterdir())
    assert [n for n, mode in modes.items() if mode == 0o600] == ["secret-istio-private-gateways-c2-example-com-certs.yaml"]
    assert set(modes.values()) == {0o600, 0o644}
    assert yaml.safe_load((role_dir / "deployment-istio-private-gateways-istio-private-ingressgateway.yaml").read_text()) \
        in first["rendered"]
    again = render()
    assert not again["changed"] and again["files"] == dict(first["files"], written=[], unchanged=len(names))
    # an object no longer rendered goes, someone's other file stays, a file edited by hand is put back
    (role_dir / "gateway-gone-old.yaml").write_text("---\n")
    (role_dir / "README").write_text("mine")
    (role_dir / names[0]).write_text("edited")
    mended = render()
    assert mended["changed"] and mended["files"]["removed"] == ["gateway-gone-old.yaml"]
    assert mended["files"]["written"] == [names[0]] and (role_dir / "README").read_text() == "mine"


def test_render_dir_is_refused_unless_rendered_before_any_cluster_is_contacted(monkeypatch, tmp_path):
    monkeypatch.setattr(cluster_role, "ClusterClient", no_cluster)
    args = dict(federation={"clusters": seed(), "settings": settings(federation_name="demo")}, cluster="cluster1",
                render_dir=str(tmp_path))
    result = run_in_process(SERVICE_IMPORT_MODULE, run_service_import, args, check_mode=False, diff=False)
    assert result["failed"]
    assert result["msg"] == "cluster cluster1: render_dir is only for state=rendered (state=present writes to the cluster)"
    assert list(tmp_path.iterdir()) == []


class InTheWayClient(FakeClient):
    """A cluster where someone else's object holds the (kind, name) of each of ``names`` (found by GET)."""

    def __init__(self, names):
        super(InTheWayClient, self).__init__([])
        self.names = names

    def get(self, obj):
        self.requests["get"] += 1
        if (obj["kind"], obj["metadata"]["name"]) not in self.names:
            return None
        return {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                "metadata": {"name": obj["metadata"]["name"], "namespace": obj["metadata"].get("namespace"),
                             "labels": {"team": "x"}}}


class UnreachableClient(FakeClient):
    def list_owned(self, api_version, kind, labels):
        raise ClusterError("cluster cluster1: API server at https://127.0.0.1:9 unreachable: Connection refused")


def test_a_preflight_returns_what_blocks_the_run_as_data_and_writes_nothing(monkeypatch):
    result, client = run_import(monkeypatch, [users_rule("details", "details")], check_mode=False, diff=True,
                                preflight=True)
    assert not result.get("failed") and not result["changed"] and result["preflight"] and result["blocked"]
    assert [c["name"] for c in result["host_conflicts"]] == ["details"]
    assert result["conflict_reasons"].startswith("Objects not managed by meshfed use hosts of its imports: "
                                                 "DestinationRule default/details")
    assert result["summary"].startswith("cluster1 import preflight: %d objects, to write %d, in the way 0, host conflicts 1 "
                                        "(DestinationRule 1): blocked [" % (result["objects"], result["changes"]))
    # the plan only: no lists of objects, no diff, no write
    assert not set(result) & {"created", "updated", "unchanged", "deleted", "diff", "msg"}
    assert result["api_requests"]["list"] > 0 and client.requests["apply"] + client.requests["delete"] == 0


def test_a_preflight_finds_objects_in_the_way_of_our_names(monkeypatch):
    client = InTheWayClient({("DestinationRule", "reviews")})
    result, dummy = run_import(monkeypatch, [], check_mode=False, client=client, preflight=True)
    assert result["blocked"] and result["conflicts"] == ["DestinationRule default/reviews"]
    assert result["conflict_reasons"] == ("DestinationRule default/reviews exists and is not managed by meshfed; remove "
                                          "it or set force=true to adopt it.")
    forced, dummy = run_import(monkeypatch, [users_rule("details", "details")], check_mode=False, preflight=True,
                               force=True)
    assert not forced["blocked"] and forced["conflict_reasons"] == "" and len(forced["host_conflicts"]) == 1


def test_a_preflight_needs_no_discovered_peer_address(monkeypatch):
    clusters = seed()
    clusters["cluster2"]["gateway_address"] = "discover"
    federation = {"clusters": clusters, "settings": settings(federation_name="demo")}
    result, dummy = run_import(monkeypatch, [], check_mode=False, federation=federation, preflight=True)
    assert not result.get("failed") and not result["blocked"], result.get("msg")
    run, dummy = run_import(monkeypatch, [], check_mode=False, federation=federation)
    assert run["failed"] and "the private ingress gateway address of cluster 'cluster2' is unknown" in run["msg"]


def test_a_role_module_given_a_description_validates_it_with_a_deprecation(monkeypatch):
    described, dummy = run_import(monkeypatch, [], check_mode=False, preflight=True)
    assert not described.get("failed"), described.get("msg")
    assert [(d["version"], d["collection_name"]) for d in described["deprecations"]] == [("1.0.0", "meshfed.federation")]
    assert "federation_model" in described["deprecations"][0]["msg"]
    model = build_model(seed(), settings(federation_name="demo"))
    given_model, dummy = run_import(monkeypatch, [], check_mode=False, preflight=True, federation=validated(model))
    assert not given_model.get("failed") and "deprecations" not in given_model, given_model


def test_a_cluster_that_cannot_be_read_fails_its_preflight_marked_as_one(monkeypatch):
    result, dummy = run_import(monkeypatch, [], check_mode=False, client=UnreachableClient([]), preflight=True)
    assert result["failed"] and result["preflight"] and "unreachable" in result["msg"]
    run, dummy = run_import(monkeypatch, [], check_mode=False, client=UnreachableClient([]))
    assert run["failed"] and "preflight" not in run


def test_a_gateway_preflight_reads_its_address_once_and_waits_for_nothing(monkeypatch, tmp_path):
    client = FakeClient([])
    monkeypatch.setattr(cluster_role, "kubernetes_missing", lambda: None)
    monkeypatch.setattr(cluster_role, "ClusterClient", lambda cluster, auth: client)
    paths = {}
    for name in ("cert_path", "key_path", "ca_path"):
        (tmp_path / name).write_text("PEM")
        paths[name] = str(tmp_path / name)
    args = dict(federation={"clusters": seed(), "settings": settings(federation_name="demo")}, cluster="cluster2",
                credential=paths, discover_address=True, wait=True, preflight=True)
    monkeypatch.setattr(discovery.time, "sleep", lambda seconds: pytest.fail("the preflight waited for the address"))
    result = run_in_process(PRIVATE_GATEWAY_MODULE, run_private_gateway, args, check_mode=False, diff=False)
    assert not result.get("failed") and not result["blocked"], result.get("msg")
    # what a no-op run would discover (the imports' preflight plans with it); none yet, and no wait for it
    assert result["ingress_gateway_address"] is None and "host_conflicts" not in result
    assert result["ansible_facts"] == {"meshfed_discovered_gateway_address": None}
    # istiod's Deployment (which Secrets to render), a Namespace that does not exist yet, which holds nothing, and the
    # ingress gateway's Service: one GET each, none for what would go in the Namespace
    assert client.requests["get"] == 3 and result["summary"].startswith("cluster2 gateway preflight: ")


def test_the_gateway_discovers_its_address_as_asked_or_when_a_consumer_needs_it():
    clusters = seed()
    clusters["cluster2"]["gateway_address"] = "discover"
    federation = build_model(clusters, settings())
    cluster1, cluster2 = "cluster1", "cluster2"
    assert discovers_address(federation, cluster2, None)  # cluster1 imports from it
    assert not discovers_address(federation, cluster1, None)  # nobody imports from cluster1
    assert not discovers_address(federation, cluster2, False) and discovers_address(federation, cluster1, True)


class IstiodClient(FakeClient):
    """A cluster whose istiod's Deployment runs ``image``; ``denied``: reading it is forbidden."""

    def __init__(self, image, denied=False):
        super(IstiodClient, self).__init__([])
        self.image, self.denied, self.got = image, denied, []

    def get(self, obj):
        self.got.append((obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]))
        if obj["kind"] == "Deployment" and self.denied:
            raise ClusterError("cluster cluster2: not allowed to get Deployment istiod in istio-system (403)")
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "istiod":
            return {"metadata": {"labels": {"app": "istiod"}}, "spec": {"template": {"spec": {
                "containers": [{"name": "discovery", "image": self.image}]}}}}
        return super(IstiodClient, self).get(obj)


def run_export(monkeypatch, client, **values):
    rendered_for = []
    monkeypatch.setattr(cluster_role, "kubernetes_missing", lambda: None)
    monkeypatch.setattr(cluster_role, "ClusterClient", lambda cluster, auth: client)
    monkeypatch.setattr(service_export, "render_exports", lambda federation, cluster, version: rendered_for.append(version) or [])
    args = dict(federation={"clusters": seed(), "settings": settings(federation_name="demo", **values)},
                cluster="cluster2", preflight=True)
    return run_in_process(SERVICE_EXPORT_MODULE, run_service_export, args, check_mode=False, diff=False), rendered_for


def test_the_export_role_renders_for_the_istiod_it_finds_with_one_client(monkeypatch):
    client = IstiodClient("docker.io/istio/pilot:1.28.2-distroless")
    result, rendered_for = run_export(monkeypatch, client)
    assert not result.get("failed"), result.get("msg")
    assert rendered_for == [(1, 28)] and client.got[0] == ("Deployment", "istio-system", "istiod")
    revisioned, rendered_for = run_export(monkeypatch, IstiodClient("pilot:1.29.0"), istio_revision="canary")
    assert rendered_for == [None]  # no istiod-canary Deployment: the layout every Istio reads
    configured = IstiodClient("pilot:1.31.0")
    result, rendered_for = run_export(monkeypatch, configured, istio_version="1.27")
    assert rendered_for == [(1, 27)]  # the setting, not istiod's 1.31


def test_istiods_deployment_that_cannot_be_read_fails_the_role_naming_the_setting(monkeypatch):
    result, rendered_for = run_export(monkeypatch, IstiodClient("pilot:1.28.0", denied=True))
    assert result["failed"] and rendered_for == [] and result["preflight"]
    assert result["msg"] == ("cluster cluster2: not allowed to get Deployment istiod in istio-system (403) (reading "
                             "istiod's version; set meshfed_istio_version to skip this)")
