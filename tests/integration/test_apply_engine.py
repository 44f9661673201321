# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The apply engine against a real API server of the lab (real Istio CRDs, no mock)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket
import uuid

import pytest
import yaml

from ansible_collections.meshfed.federation.plugins.module_utils.apply import plan_changes, plan_summary
from ansible_collections.meshfed.federation.plugins.module_utils.kube_client import (
    ClusterClient, ClusterError, read_live)
from ansible_collections.meshfed.federation.plugins.module_utils.render.labels import owned_labels, owner_selector

pytestmark = pytest.mark.lab

CONTEXT = "cluster3"
KINDS = [("v1", "Service"), ("v1", "Secret"), ("networking.istio.io/v1", "Gateway"),
         ("networking.istio.io/v1", "VirtualService")]


@pytest.fixture
def namespace(lab):
    name = "apply-" + uuid.uuid4().hex[:8]
    lab.kubectl(CONTEXT, "create", "namespace", name)
    yield name
    lab.kubectl(CONTEXT, "delete", "namespace", name, "--wait=false")


@pytest.fixture
def federation():
    return "eng-" + uuid.uuid4().hex[:6]


def desired_objects(ns, federation, host="reviews.example.com"):
    labels = owned_labels(federation, "export", export="reviews")
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "alias", "namespace": ns, "labels": labels},
         "spec": {"ports": [{"name": "http", "port": 9080, "targetPort": 9080, "protocol": "TCP"}]}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cred", "namespace": ns, "labels": labels},
         "type": "Opaque", "data": {"k": "dmFsdWU="}},
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
         "metadata": {"name": "gw", "namespace": ns, "labels": labels},
         "spec": {"selector": {"istio": "private-ingressgateway"}, "servers": [
             {"port": {"number": 15443, "name": "tls", "protocol": "TLS"}, "hosts": [host],
              "tls": {"mode": "MUTUAL", "credentialName": "cred", "subjectAltNames": ["c1.example.com"]}}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
         "metadata": {"name": "vs", "namespace": ns, "labels": labels},
         "spec": {"hosts": [host], "gateways": ["gw"], "tcp": [{"match": [{"port": 15443}], "route": [
             {"destination": {"host": "reviews.default.svc.cluster.local", "port": {"number": 9080}}}]}]}},
    ]


def converge(lab, federation, desired, force=False, write=True):
    client = ClusterClient("cluster3", {"kubeconfig": lab.kubeconfig, "context": CONTEXT})
    labels = owner_selector(federation, "export")
    owned, existing = read_live(client, desired, KINDS, labels)
    plan = plan_changes(desired, owned, existing, labels, {k for dummy, k in KINDS}, force=force)
    if write and not plan.conflict:
        for change in plan.create + plan.update:
            client.apply(change.desired)
        for change in plan.delete:
            client.delete(change.live)
    return plan_summary(plan), client.requests


def versions(lab, ns):
    items = json.loads(lab.kubectl(CONTEXT, "get", "services,secrets,gateways.networking.istio.io,"
                                   "virtualservices.networking.istio.io", "-n", ns, "-o", "json"))["items"]
    return {(i["kind"], i["metadata"]["name"]): i["metadata"]["resourceVersion"] for i in items}


def test_create_then_noop_sends_no_write(lab, namespace, federation):
    summary, dummy = converge(lab, federation, desired_objects(namespace, federation))
    assert sorted(summary["created"]) == sorted("%s %s/%s" % (k, namespace, n) for k, n in
                                                [("Service", "alias"), ("Secret", "cred"), ("Gateway", "gw"),
                                                 ("VirtualService", "vs")])
    before = versions(lab, namespace)
    summary, requests = converge(lab, federation, desired_objects(namespace, federation))
    assert summary["created"] == summary["updated"] == summary["deleted"] == []
    assert len(summary["unchanged"]) == 4
    assert requests == {"list": len(KINDS), "get": 0, "apply": 0, "delete": 0}
    assert versions(lab, namespace) == before


def test_plan_without_writing_predicts_the_change_and_touches_nothing(lab, namespace, federation):
    converge(lab, federation, desired_objects(namespace, federation))
    before = versions(lab, namespace)
    changed = desired_objects(namespace, federation, host="ratings.example.com")
    summary, requests = converge(lab, federation, changed, write=False)
    assert sorted(summary["updated"]) == ["Gateway %s/gw" % namespace, "VirtualService %s/vs" % namespace]
    assert requests["apply"] == requests["delete"] == 0
    assert versions(lab, namespace) == before
    summary, dummy = converge(lab, federation, changed)
    assert sorted(summary["updated"]) == ["Gateway %s/gw" % namespace, "VirtualService %s/vs" % namespace]
    hosts = lab.kubectl(CONTEXT, "get", "virtualservices.networking.istio.io", "vs", "-n", namespace,
                        "-o", "jsonpath={.spec.hosts[0]}")
    assert hosts == "ratings.example.com"


def test_removed_object_is_pruned(lab, namespace, federation):
    converge(lab, federation, desired_objects(namespace, federation))
    remaining = [o for o in desired_objects(namespace, federation) if o["kind"] != "VirtualService"]
    summary, dummy = converge(lab, federation, remaining)
    assert summary["deleted"] == ["VirtualService %s/vs" % namespace]
    assert lab.kubectl(CONTEXT, "get", "virtualservices.networking.istio.io", "-n", namespace, "-o", "name") == ""


def test_foreign_object_is_a_conflict_left_untouched_then_adopted_with_force(lab, namespace, federation):
    foreign = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "alias", "namespace": namespace, "labels": {"team": "payments"}},
               "spec": {"ports": [{"name": "web", "port": 9080}]}}
    lab.kubectl(CONTEXT, "apply", "-f", "-", input=yaml.safe_dump(foreign))
    before = versions(lab, namespace)
    summary, requests = converge(lab, federation, desired_objects(namespace, federation))
    assert summary["conflicts"] == ["Service %s/alias" % namespace]
    assert requests["apply"] == 0 and versions(lab, namespace) == before
    summary, dummy = converge(lab, federation, desired_objects(namespace, federation), force=True)
    assert "Service %s/alias" % namespace in summary["updated"]
    labels = json.loads(lab.kubectl(CONTEXT, "get", "service", "alias", "-n", namespace, "-o", "jsonpath={.metadata.labels}"))
    assert labels["app.kubernetes.io/managed-by"] == "meshfed" and labels["team"] == "payments"


def test_unreachable_cluster_is_named(lab, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "gone",
              "clusters": [{"name": "gone", "cluster": {"server": "https://127.0.0.1:%d" % port,
                                                        "insecure-skip-tls-verify": True}}],
              "users": [{"name": "u", "user": {"token": "t"}}],
              "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}]}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ClusterError, match=r"cluster cluster9: API server at https://127.0.0.1:%d unreachable" % port):
        client = ClusterClient("cluster9", {"kubeconfig": str(path), "context": "gone"})
        read_live(client, [], KINDS, owner_selector("f", "export"))


def test_missing_istio_crds_are_reported_as_istio_not_installed(lab):
    client = ClusterClient("cluster3", {"kubeconfig": lab.kubeconfig, "context": CONTEXT})
    with pytest.raises(ClusterError, match=r"Istio is not installed in cluster cluster3 \(networking.istio.io/v7 Gateway"):
        client.resource("networking.istio.io/v7", "Gateway")
