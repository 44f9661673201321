# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``meshfed_gateway_address: discover`` on the lab: the consumer learns the exporter's private ingress gateway
address from the gateway Service's ``status.loadBalancer`` (the lab has no load balancer: the test plays its
part by writing that status)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import uuid

import pytest

from ansible_collections.meshfed.federation.tests.integration.playbook_runner import (
    run_playbook, settle_namespace, write_inventory)

pytestmark = pytest.mark.lab

GATEWAY_NAMESPACE = "istio-private-gateways"
INGRESS_SERVICE = "istio-private-ingressgateway"


def discover_cluster2(hosts):
    hosts["cluster2"]["meshfed_gateway_address"] = "discover"


@pytest.fixture()
def inventory(lab, tmp_path):
    directory = write_inventory(str(tmp_path / "inventory"), lab.kubeconfig, "discover-" + uuid.uuid4().hex[:6],
                                discover_cluster2)
    assert run_playbook("lab-sample-apps.yml", directory).rc == 0
    for context in ("cluster1", "cluster2"):
        settle_namespace(lab, context, GATEWAY_NAMESPACE)  # a previous federation's may still be going away
    yield directory
    run_playbook("unfederate.yml", directory)


def peer_endpoints(lab):
    entry = json.loads(lab.kubectl("cluster1", "get", "serviceentry", "meshfed-peer-cluster2", "-n", GATEWAY_NAMESPACE,
                                   "-o", "json"))
    return entry["spec"]["endpoints"], [p["number"] for p in entry["spec"]["ports"]]


def discovered(run):
    """What each cluster's private_gateway task found as its ingress gateway address (absent: not asked)."""
    return {host: res.get("ingress_gateway_address", "not asked") for dummy, host, res in run.task_results("private_gateway")}


def test_consumer_waits_for_the_load_balancer_address_then_uses_it(lab, inventory):
    # no load balancer has given cluster2's gateway an address yet: cluster1's imports fail and say why
    run = run_playbook("federate.yml", inventory)
    assert run.rc != 0
    assert discovered(run) == {"cluster1": "not asked", "cluster2": None}
    failures = [res for dummy, host, res in run.task_results("service_import") if res.get("failed")]
    assert len(failures) == 1 and "the private ingress gateway address of cluster 'cluster2' is unknown" in failures[0]["msg"]
    assert lab.kubectl_run("cluster1", "get", "serviceentry", "meshfed-peer-cluster2", "-n", GATEWAY_NAMESPACE).returncode != 0

    # what a cloud load balancer controller would write
    lab.kubectl("cluster2", "patch", "service", INGRESS_SERVICE, "-n", GATEWAY_NAMESPACE, "--subresource=status",
                "--type=merge", "-p", json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.42"}]}}}))
    run = run_playbook("federate.yml", inventory)
    assert run.rc == 0, run.stdout[-4000:]
    assert discovered(run)["cluster2"] == {"address": "127.0.0.42", "port": 15443}
    assert peer_endpoints(lab) == ([{"address": "127.0.0.42"}], [15443])

    # the address moves: the next run follows it
    lab.kubectl("cluster2", "patch", "service", INGRESS_SERVICE, "-n", GATEWAY_NAMESPACE, "--subresource=status",
                "--type=merge", "-p", json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.43"}]}}}))
    run = run_playbook("federate.yml", inventory)
    assert run.rc == 0, run.stdout[-4000:]
    assert peer_endpoints(lab)[0] == [{"address": "127.0.0.43"}]
    updated = [res["updated"] for dummy, host, res in run.task_results("service_import") if host == "cluster1"]
    assert updated == [["ServiceEntry %s/meshfed-peer-cluster2" % GATEWAY_NAMESPACE]]


def test_clusters_with_a_configured_address_skip_discovery(lab, tmp_path):
    inventory = write_inventory(str(tmp_path / "inventory"), lab.kubeconfig, "nodiscover-" + uuid.uuid4().hex[:6])
    run = run_playbook("federate.yml", inventory, "--check")
    assert run.rc == 0, run.stdout[-4000:]
    # cluster2 has meshfed_gateway_address, cluster1 exports nothing: nobody needs discovery
    assert discovered(run) == {"cluster1": "not asked", "cluster2": "not asked"}
