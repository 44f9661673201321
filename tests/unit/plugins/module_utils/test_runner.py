# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The import role from the module's parameters to its result, against an in-memory cluster: what it reads for
the host check, and how host conflicts stop it (or, forced, only warn)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils import runner
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import (
    PRIVATE_GATEWAY_MODULE, SERVICE_IMPORT_MODULE)
from ansible_collections.meshfed.federation.plugins.module_utils.model import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.plan import SPEC_HASH, stamp
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
        return [o for o in self.foreign if o["kind"] == kind and o["metadata"]["namespace"] == namespace]

    def list_metadata(self, api_version, kind, namespace=None):
        self.requests["list"] += 1
        return []

    def get(self, obj):
        self.requests["get"] += 1
        return None


def users_rule(name, host, namespace="default"):
    return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}}, "spec": {"host": host}}


def run_import(monkeypatch, foreign, **params):
    """The service_import module's result in check mode, as its action plugin computes it."""
    client = FakeClient(foreign)
    monkeypatch.setattr(runner, "HAS_KUBERNETES", True)
    monkeypatch.setattr(runner, "ClusterClient", lambda cluster, auth: client)
    args = dict(federation={"clusters": seed(), "settings": settings(federation_name="demo")}, cluster="cluster1")
    args.update(params)
    return run_in_process(SERVICE_IMPORT_MODULE, runner.run_service_import, args, check_mode=True,
                          diff=False), client


def test_the_import_role_reads_the_importing_namespaces_and_stops_on_host_conflicts(monkeypatch):
    foreign = [users_rule("mtls", "*.local"), users_rule("details", "details"),
               users_rule("other", "*.local", namespace="bookinfo")]
    result, client = run_import(monkeypatch, foreign)
    assert sorted(client.namespace_lists) == [("networking.istio.io/v1", "DestinationRule", "default"),
                                              ("networking.istio.io/v1", "VirtualService", "default")]
    assert result["failed"] and result["conflicts"] == []
    assert [(c["name"], c["host"], c["import_host"]) for c in result["host_conflicts"]] == [
        ("details", "details", "details.default.svc.cluster.local"),
        ("mtls", "*.local", "istio-private-egressgateway.istio-private-gateways.svc.cluster.local")]
    assert result["msg"].startswith("cluster cluster1: Objects not managed by meshfed use hosts of its imports: "
                                    "DestinationRule default/details: host details (for "
                                    "details.default.svc.cluster.local) is the local name of import default/details")
    assert "created" in result and not result.get("changed") and "summary" not in result


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
    monkeypatch.setattr(runner, "ClusterClient", no_cluster)
    args = dict(federation={"clusters": seed(), "settings": settings(federation_name="demo")}, cluster=cluster,
                state="rendered")
    args.update(params)
    return run_in_process(spec, run, args, check_mode=False, diff=False)


def test_rendered_gateways_leave_the_secret_out_unless_asked_and_contact_no_cluster(monkeypatch, tmp_path):
    result = run_rendered(monkeypatch, PRIVATE_GATEWAY_MODULE, runner.run_private_gateway, "cluster2")
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
    missing = run_rendered(monkeypatch, PRIVATE_GATEWAY_MODULE, runner.run_private_gateway, "cluster2",
                           render_secrets=True)
    assert missing["failed"] and "credential" in missing["msg"]
    with_secret = run_rendered(monkeypatch, PRIVATE_GATEWAY_MODULE, runner.run_private_gateway, "cluster2",
                               render_secrets=True, credential=paths)
    secret = [o for o in with_secret["rendered"] if o["kind"] == "Secret"]
    assert len(secret) == 1 and secret[0]["metadata"]["name"] == "c2-example-com-certs"


def test_rendered_imports_need_no_cluster_and_are_what_present_would_apply(monkeypatch):
    result = run_rendered(monkeypatch, SERVICE_IMPORT_MODULE, runner.run_service_import, "cluster1")
    assert not result.get("failed"), result.get("msg")
    assert not result["changed"] and "api_requests" not in result
    names = [(o["kind"], o["metadata"]["name"]) for o in result["rendered"]]
    assert ("VirtualService", "reviews") in names and ("ServiceEntry", "meshfed-peer-cluster2") in names
