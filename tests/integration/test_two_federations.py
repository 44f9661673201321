# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two federations (two inventories, two meshfed_federation_name) on the same clusters, each with its own gateway
namespace (and, on one machine, its own gateway ports): both converge at the same time (each run holds its own
federation's lock) and stay converged, both carry requests, and unfederating one leaves the other as it was."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import threading

import pytest

from ansible_collections.meshfed.federation.tests.integration.mesh import Mesh, until, via_sidecar
from ansible_collections.meshfed.federation.tests.integration.playbook_runner import (
    run_playbook, settle_namespace, write_inventory, write_marks)

pytestmark = [pytest.mark.lab, pytest.mark.slow]

CLUSTERS = ("cluster1", "cluster2")
FIRST, SECOND = "first", "second"
SECOND_NAMESPACE = "istio-private-gateways-b"


def second_hosts(hosts):
    """The second federation: details only, consumed as details-b."""
    hosts["cluster1"]["meshfed_imports"] = [dict(i, name="details-b") for i in hosts["cluster1"]["meshfed_imports"]
                                            if i["name"] == "details"]
    hosts["cluster2"]["meshfed_exports"] = [e for e in hosts["cluster2"]["meshfed_exports"] if e["name"] == "details"]


def second_settings(group):
    # its own namespace; its own ports too, as the lab's gateways of one cluster share one network namespace
    group.update(meshfed_gateway_namespace=SECOND_NAMESPACE, meshfed_ingress_port=15444, meshfed_egress_port=444)


def play(lab, inventory, playbook):
    run = run_playbook(playbook, inventory, env={"MESHFED_LAB_DIR": lab.dir}, timeout=900)
    assert run.rc == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return run


def versions(lab, federation):
    """Per cluster, the write marks of one federation's objects."""
    return dict((cluster, write_marks(lab, cluster, "meshfed.io/federation=" + federation)) for cluster in CLUSTERS
                if write_marks(lab, cluster, "meshfed.io/federation=" + federation))


@pytest.fixture(scope="module")
def federations(lab, tmp_path_factory):
    mesh = Mesh(lab)
    if not mesh.state:
        pytest.fail("the lab runs without its mesh (tools/lab/lab up --no-mesh); run tools/lab/lab up 3", pytrace=False)
    first = write_inventory(str(tmp_path_factory.mktemp("first")), lab.kubeconfig, FIRST)
    second = write_inventory(str(tmp_path_factory.mktemp("second")), lab.kubeconfig, SECOND, mutate=second_hosts,
                             group_mutate=second_settings)
    play(lab, first, "lab_sample_apps.yml")
    for cluster in CLUSTERS:
        for namespace in ("istio-private-gateways", SECOND_NAMESPACE):
            settle_namespace(lab, cluster, namespace)
    try:
        # at the same time: each run holds its own federation's lock, neither waits for the other or prunes its objects
        runs = []
        threads = [threading.Thread(target=lambda inventory=inventory: runs.append(
            run_playbook("federate.yml", inventory, env={"MESHFED_LAB_DIR": lab.dir}, timeout=900)))
            for inventory in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(960)
        assert len(runs) == 2 and all(run.rc == 0 for run in runs), [r.failure() or r.stdout[-3000:] for r in runs]
        productpage = mesh.wait_ready("cluster1", "default", "productpage-v1")
        ingress = {}
        for namespace in ("istio-private-gateways", SECOND_NAMESPACE):
            ingress[namespace] = mesh.wait_ready("cluster2", namespace, "istio-private-ingressgateway")
            mesh.wait_ready("cluster1", namespace, "istio-private-egressgateway")
        for host in ("details", "details-b"):
            assert until(lambda: via_sidecar(productpage, "%s.default.svc.cluster.local" % host, 9080,
                                             "/details/0")[0] == 200, timeout=150), host
        yield first, second, productpage, mesh, ingress
    finally:
        for inventory in (second, first):
            run_playbook("unfederate.yml", inventory, env={"MESHFED_LAB_DIR": lab.dir}, timeout=900)


def listener_ports(mesh, workload):
    listeners = json.loads(mesh.admin(workload, "/listeners?format=json"))["listener_statuses"]
    return sorted({entry["local_address"]["socket_address"]["port_value"] for entry in listeners
                   if "socket_address" in entry.get("local_address", {})})


def test_each_federations_gateway_serves_only_its_own_servers(federations):
    dummy, dummy, dummy, mesh, ingress = federations
    # Istio applies a Gateway's selector to gateway pods of every namespace: ours name the gateway namespace too
    assert 15443 in listener_ports(mesh, ingress["istio-private-gateways"])
    assert 15444 not in listener_ports(mesh, ingress["istio-private-gateways"])
    assert 15444 in listener_ports(mesh, ingress[SECOND_NAMESPACE])
    assert 15443 not in listener_ports(mesh, ingress[SECOND_NAMESPACE])


def test_both_converge_carry_requests_and_stay_converged(federations, lab):
    first, second, productpage, dummy, dummy = federations
    for inventory in (first, second):
        assert not play(lab, inventory, "federate.yml").changed_tasks()
    for host in ("details", "details-b"):
        status, body = via_sidecar(productpage, "%s.default.svc.cluster.local" % host, 9080, "/details/0")
        assert status == 200 and body["namespace"] == "bookinfo", (host, body)


def test_unfederating_one_leaves_the_other_as_it_was(federations, lab):
    first, second, productpage, dummy, dummy = federations
    before = versions(lab, FIRST)
    assert before and versions(lab, SECOND)
    play(lab, second, "unfederate.yml")
    assert not versions(lab, SECOND)
    assert versions(lab, FIRST) == before
    status, dummy = via_sidecar(productpage, "details.default.svc.cluster.local", 9080, "/details/0")
    assert status == 200
