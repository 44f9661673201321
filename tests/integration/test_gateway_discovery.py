# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``meshfed_gateway_address: discover`` on the lab: the consumer learns the exporter's private ingress gateway
address from the gateway Service's ``status.loadBalancer``, which the lab's load balancer controller writes (an
address of cluster2's network namespace, as a cloud gives one)."""

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


def no_load_balancer(group_vars):
    # a ClusterIP gateway Service never gets a load balancer address; don't wait long for one
    group_vars.update(meshfed_ingress_service_type="ClusterIP", meshfed_gateway_discover_timeout=3)


@pytest.fixture()
def inventory(lab, tmp_path):
    directory = write_inventory(str(tmp_path / "inventory"), lab.kubeconfig, "discover-" + uuid.uuid4().hex[:6])
    assert run_playbook("lab_sample_apps.yml", directory).rc == 0
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


def service_address(lab):
    service = json.loads(lab.kubectl("cluster2", "get", "service", INGRESS_SERVICE, "-n", GATEWAY_NAMESPACE, "-o", "json"))
    return (service["status"].get("loadBalancer") or {}).get("ingress", [{}])[0].get("ip")


def test_consumer_waits_for_the_load_balancer_address_then_uses_it(lab, inventory):
    # the gateway Service is new: the run waits until the load balancer has given it its address
    run = run_playbook("federate.yml", inventory)
    assert run.rc == 0, run.stdout[-4000:]
    address = service_address(lab)
    assert address and address.startswith("172.31.2."), address
    assert discovered(run) == {"cluster1": "not asked", "cluster2": {"address": address, "port": 15443}}
    assert peer_endpoints(lab) == ([{"address": address}], [15443])

    # the address moves (what a load balancer may do): the next run follows it
    moved = "172.31.2.150"
    lab.kubectl("cluster2", "patch", "service", INGRESS_SERVICE, "-n", GATEWAY_NAMESPACE, "--subresource=status",
                "--type=merge", "-p", json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": moved}]}}}))
    run = run_playbook("federate.yml", inventory)
    assert run.rc == 0, run.stdout[-4000:]
    assert peer_endpoints(lab)[0] == [{"address": moved}]
    updated = [res["updated"] for dummy, host, res in run.task_results("service_import") if host == "cluster1"]
    assert updated == [["ServiceEntry %s/meshfed-peer-cluster2" % GATEWAY_NAMESPACE]]


def test_without_a_load_balancer_address_the_imports_fail_and_say_why(lab, tmp_path):
    directory = write_inventory(str(tmp_path / "inventory"), lab.kubeconfig, "nolb-" + uuid.uuid4().hex[:6],
                                group_mutate=no_load_balancer)
    for context in ("cluster1", "cluster2"):
        settle_namespace(lab, context, GATEWAY_NAMESPACE)
    try:
        run = run_playbook("federate.yml", directory)
        assert run.rc != 0
        assert discovered(run) == {"cluster1": "not asked", "cluster2": None}
        failures = [res for dummy, host, res in run.task_results("service_import") if res.get("failed")]
        assert len(failures) == 1, failures
        assert "the private ingress gateway address of cluster 'cluster2' is unknown" in failures[0]["msg"]
        assert lab.kubectl_run("cluster1", "get", "serviceentry", "meshfed-peer-cluster2", "-n",
                               GATEWAY_NAMESPACE).returncode != 0
    finally:
        run_playbook("unfederate.yml", directory)


def configured_address(hosts):
    hosts["cluster2"]["meshfed_gateway_address"] = {"address": "172.31.2.100", "port": 15443}


def test_clusters_with_a_configured_address_skip_discovery(lab, tmp_path):
    for context in ("cluster1", "cluster2"):
        settle_namespace(lab, context, GATEWAY_NAMESPACE)  # the previous test's is still going away
    inventory = write_inventory(str(tmp_path / "inventory"), lab.kubeconfig, "nodiscover-" + uuid.uuid4().hex[:6],
                                configured_address)
    run = run_playbook("federate.yml", inventory, "--check")
    assert run.rc == 0, run.stdout[-4000:]
    # cluster2 has meshfed_gateway_address, cluster1 exports nothing: nobody needs discovery
    assert discovered(run) == {"cluster1": "not asked", "cluster2": "not asked"}
