# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight across every cluster of a run, on the lab's three clusters: federate.yml plans every role of every
cluster before it changes any. An object in the way in one cluster stops every cluster with one message naming it,
and nothing changes anywhere; once it is gone the run converges and stays converged. A cluster that cannot be reached
(its API server refuses, its kubeconfig has no such context) drops out alone: the other clusters converge and the end
of the run names it.

The federation is the lab's (cluster2 exports reviews-v2 and details to cluster1) with cluster3 consuming details
too; the change under test adds ratings, exported by cluster2 and imported by cluster1 and cluster3, so a run has
objects to write in all three clusters. cluster2's gateway address is configured: no load balancer is waited for.
The steps build on each other and run in file order."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import uuid
from collections import namedtuple

import pytest
import yaml

from ansible_collections.meshfed.federation.tests.integration.playbook_runner import (
    OUR_KINDS, OWNED, owned_objects, pki_dir_for, run_playbook, settle_namespace, write_inventory, write_marks)

pytestmark = [pytest.mark.lab, pytest.mark.slow]

FEDERATION = "preflight-" + uuid.uuid4().hex[:6]
CLUSTERS = ("cluster1", "cluster2", "cluster3")
ROLES = ("export", "gateway", "import")
GATEWAY_NAMESPACE = "istio-private-gateways"
FOREIGN_GATEWAY = "meshfed-export-ratings"   # the name of ratings' Gateway in cluster2
# someone else's Gateway, without meshfed's labels, where the run wants ratings' one
FOREIGN = {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
           "metadata": {"name": FOREIGN_GATEWAY, "namespace": GATEWAY_NAMESPACE, "labels": {"team": "payments"}},
           "spec": {"selector": {"istio": "payments-gateway"},
                    "servers": [{"port": {"number": 8443, "name": "tls", "protocol": "TLS"},
                                 "hosts": ["payments.example.com"], "tls": {"mode": "PASSTHROUGH"}}]}}
LEFT_OUT_TASK = "Name the clusters this run left out"

Inventories = namedtuple("Inventories", "root base ratings pki")


def three_clusters(hosts):
    """The lab's federation, cluster3 consuming details too; cluster2's gateway address configured."""
    hosts["cluster2"]["meshfed_gateway_address"] = {"address": "172.31.2.100", "port": 15443}
    hosts["cluster2"]["meshfed_exports"][1]["consumers"] = ["cluster1", "cluster3"]
    hosts["cluster3"] = {"meshfed_identity": "c3.example.com", "meshfed_imports": [
        {"name": "details", "namespace": "default", "port": 9080, "from": [{"cluster": "cluster2", "export": "details"}]}]}


def with_ratings(hosts):
    """And ratings: exported by cluster2 to cluster1 and cluster3, imported by both."""
    three_clusters(hosts)
    hosts["cluster2"]["meshfed_exports"].append({"name": "ratings", "service": {"namespace": "bookinfo", "name": "ratings",
                                                                                "port": 9080},
                                                 "consumers": ["cluster1", "cluster3"]})
    for consumer in ("cluster1", "cluster3"):
        hosts[consumer]["meshfed_imports"].append({"name": "ratings", "namespace": "default", "port": 9080,
                                                   "from": [{"cluster": "cluster2", "export": "ratings"}]})


def federate(lab, inventory, *extra):
    return run_playbook("federate.yml", inventory, *extra, env={"MESHFED_LAB_DIR": lab.dir}, timeout=900)


def snapshot(lab):
    """Per cluster, the write marks (generation, meshfed's write times) of every meshfed object: a controller's status
    update (the HPA's) changes an object's resourceVersion, not these."""
    return dict((cluster, write_marks(lab, cluster, OWNED)) for cluster in CLUSTERS)


def ratings_objects(lab, cluster):
    return [o for o in owned_objects(lab, cluster, FEDERATION, OUR_KINDS) if "ratings" in o]


def foreign_gateway(lab):
    """(resourceVersion, labels) of the foreign Gateway in cluster2."""
    out = lab.kubectl("cluster2", "get", "gateways.networking.istio.io", FOREIGN_GATEWAY, "-n", GATEWAY_NAMESPACE, "-o",
                      "yaml")
    meta = yaml.safe_load(out)["metadata"]
    return meta["resourceVersion"], meta.get("labels") or {}


def apply_results(run, preflight=False):
    """{(cluster, role): result} of the roles' tasks that ran after the preflight (of the preflight's, with
    ``preflight``)."""
    return dict(((host, res["role"]), res) for module in ("private_gateway", "service_export", "service_import")
                for dummy, host, res in run.task_results(module, preflight) if "role" in res)


def left_out(run):
    """The message of the end of the run naming the clusters it left out, or None."""
    return next((res["msg"] for name, dummy, res in run.task_results() if name == LEFT_OUT_TASK and "msg" in res), None)


def assert_converged(run):
    assert run.rc == 0, run.stdout[-5000:] + run.stderr[-3000:]
    assert left_out(run) is None


def assert_unchanged(run):
    assert_converged(run)
    assert run.changed_tasks() == [] and all(s["changed"] == 0 for s in run.stats().values()), run.stats()
    for key, res in apply_results(run).items():
        assert res["api_requests"].get("apply", 0) + res["api_requests"].get("delete", 0) == 0, (key, res)


@pytest.fixture(scope="module")
def inventories(lab, tmp_path_factory):
    if len(lab.contexts) < 3:
        pytest.skip("needs the lab's three clusters (tools/lab/lab up 3)")
    root = str(tmp_path_factory.mktemp("preflight"))
    apps = run_playbook("lab_sample_apps.yml", write_inventory(os.path.join(root, "apps"), lab.kubeconfig, FEDERATION))
    assert apps.rc == 0, apps.stdout[-3000:] + apps.stderr[-3000:]
    for cluster in CLUSTERS:
        settle_namespace(lab, cluster, GATEWAY_NAMESPACE)
    pki = pki_dir_for(os.path.join(root, "base"))
    base = write_inventory(os.path.join(root, "base"), lab.kubeconfig, FEDERATION, three_clusters, pki_dir=pki)
    ratings = write_inventory(os.path.join(root, "ratings"), lab.kubeconfig, FEDERATION, with_ratings, pki_dir=pki)
    try:
        assert_converged(federate(lab, base))
        yield Inventories(root, base, ratings, pki)
    finally:
        lab.kubectl_run("cluster2", "delete", "gateways.networking.istio.io", FOREIGN_GATEWAY, "-n", GATEWAY_NAMESPACE,
                        "--ignore-not-found")
        run_playbook("unfederate.yml", base, env={"MESHFED_LAB_DIR": lab.dir}, timeout=900)


def test_an_object_in_the_way_in_one_cluster_stops_every_cluster_and_nothing_changes_anywhere(lab, inventories):
    lab.kubectl("cluster2", "create", "-f", "-", input=yaml.safe_dump(FOREIGN))
    foreign = foreign_gateway(lab)
    before = snapshot(lab)

    run = federate(lab, inventories.ratings)
    assert run.rc != 0, run.stdout[-5000:]
    message = run.failure()
    assert message == (
        "Objects are in the way in cluster2 (1 of the 3 clusters the preflight read), so this run changes no cluster. "
        "cluster cluster2: Gateway %s/%s exists and is not managed by meshfed; remove it or set force=true to adopt "
        "it. Nothing was changed." % (GATEWAY_NAMESPACE, FOREIGN_GATEWAY)), message
    assert "Traceback" not in run.stdout + run.stderr
    # every role of every cluster was planned, only cluster2's exports were blocked, none of them wrote
    preflights = dict(((host, res["role"]), res) for dummy, host, res in run.task_results(preflight=True))
    assert sorted(preflights) == [(c, r) for c in CLUSTERS for r in ROLES], sorted(preflights)
    assert [key for key, res in preflights.items() if res["blocked"]] == [("cluster2", "export")]
    assert preflights[("cluster2", "export")]["conflicts"] == ["Gateway %s/%s" % (GATEWAY_NAMESPACE, FOREIGN_GATEWAY)]
    for key, res in preflights.items():
        assert not res.get("failed") and not res["changed"], (key, res)
        assert res["api_requests"]["list"] > 0 and res["api_requests"]["apply"] + res["api_requests"]["delete"] == 0
    # no role ran after the preflight, in any cluster
    assert apply_results(run) == {}
    assert all(s["changed"] == 0 for s in run.stats().values()), run.stats()

    assert snapshot(lab) == before
    assert [ratings_objects(lab, cluster) for cluster in CLUSTERS] == [[], [], []]
    assert foreign_gateway(lab) == foreign and "app.kubernetes.io/managed-by" not in foreign[1]


def test_once_the_object_is_gone_the_run_converges_every_cluster_and_stays_converged(lab, inventories):
    lab.kubectl("cluster2", "delete", "gateways.networking.istio.io", FOREIGN_GATEWAY, "-n", GATEWAY_NAMESPACE)
    run = federate(lab, inventories.ratings)
    assert_converged(run)
    results = apply_results(run)
    assert "Gateway %s/%s" % (GATEWAY_NAMESPACE, FOREIGN_GATEWAY) in results[("cluster2", "export")]["created"]
    for consumer in ("cluster1", "cluster3"):
        assert "VirtualService default/ratings" in results[(consumer, "import")]["created"], results[(consumer, "import")]
        assert ratings_objects(lab, consumer), consumer
    # the preflight of that run found nothing in the way
    assert not [res for dummy, dummy, res in run.task_results(preflight=True) if res["blocked"]]

    assert_unchanged(federate(lab, inventories.ratings))


def port_refusing_connections():
    """A loopback socket bound but not listening: connecting to its port is refused, and no one else takes the port
    while it is held."""
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.bind(("127.0.0.1", 0))
    return held


def kubeconfig_with_server(lab, path, cluster, server):
    """A copy of the lab's kubeconfig with another API server address for one cluster."""
    with open(lab.kubeconfig) as f:
        config = yaml.safe_load(f)
    for entry in config["clusters"]:
        if entry["name"] == cluster:
            entry["cluster"]["server"] = server
    with open(path, "w") as f:
        yaml.safe_dump(config, f)
    os.chmod(path, 0o600)
    return path


def cluster3_connecting_with(lab, inventories, name, **host_vars):
    """The federation without ratings, cluster3 with other connection variables (meshfed_kubeconfig, ...)."""
    def mutate(hosts):
        three_clusters(hosts)
        hosts["cluster3"].update(host_vars)
    return write_inventory(os.path.join(inventories.root, name), lab.kubeconfig, FEDERATION, mutate,
                           pki_dir=inventories.pki)


def assert_cluster3_left_out(run, reason):
    """cluster3 failed the first task that reaches it, taking the federation's lock, naming itself and why; it did
    nothing else (no preflight, no role), and the end of the run names it; the other clusters converged."""
    assert run.rc != 0, run.stdout[-5000:]
    failed = [(host, res) for dummy, host, res in run.task_results(preflight=None) if res.get("failed")]
    assert [(host, res["action"]) for host, res in failed] == [("cluster3", "meshfed.federation.federation_lock")], failed
    assert not [host for dummy, host, dummy in run.task_results(preflight=True) if host == "cluster3"]
    message = failed[0][1]["msg"]
    assert message.startswith("cluster cluster3: ") and reason in message, message
    assert "Traceback" not in run.stdout + run.stderr
    assert left_out(run) == "This run left out 1 of its 3 clusters, where it failed: %s" % message
    results = apply_results(run)
    if not results:  # nothing to write in cluster1 and cluster2: the run stopped at their preflight
        results = apply_results(run, preflight=True)
        assert all(res["changes"] == 0 for res in results.values()), results
    assert sorted(results) == [(c, r) for c in ("cluster1", "cluster2") for r in ROLES], sorted(results)
    assert not [key for key, res in results.items() if res.get("failed")], results
    stats = run.stats()
    assert (stats["cluster1"]["failures"], stats["cluster2"]["failures"], stats["cluster3"]["failures"]) == (0, 0, 1)
    return results


def test_an_unreachable_cluster_drops_out_alone_the_others_converge_and_the_run_names_it(lab, inventories):
    held = port_refusing_connections()
    try:
        server = "https://127.0.0.1:%d" % held.getsockname()[1]
        config = kubeconfig_with_server(lab, os.path.join(inventories.root, "refused-kubeconfig"), "cluster3", server)
        inventory = cluster3_connecting_with(lab, inventories, "refused", meshfed_kubeconfig=config)
        before = write_marks(lab, "cluster3", "meshfed.io/federation=" + FEDERATION)
        run = federate(lab, inventory)
    finally:
        held.close()
    results = assert_cluster3_left_out(run, "API server at %s unreachable" % server)
    # without ratings in the inventory, cluster1 and cluster2 pruned it; cluster3 was not touched
    assert "Gateway %s/%s" % (GATEWAY_NAMESPACE, FOREIGN_GATEWAY) in results[("cluster2", "export")]["deleted"]
    assert "VirtualService default/ratings" in results[("cluster1", "import")]["deleted"]
    assert ratings_objects(lab, "cluster1") == [] and ratings_objects(lab, "cluster2") == []
    assert ratings_objects(lab, "cluster3") and write_marks(lab, "cluster3", "meshfed.io/federation=" + FEDERATION) == before


def test_a_cluster_whose_kubeconfig_lacks_its_context_drops_out_alone(lab, inventories):
    inventory = cluster3_connecting_with(lab, inventories, "no-context", meshfed_context="cluster9")
    before = write_marks(lab, "cluster3", "meshfed.io/federation=" + FEDERATION)
    run = federate(lab, inventory)
    results = assert_cluster3_left_out(run, "cannot connect with its kubeconfig/context/auth options")
    assert "cluster9" in left_out(run)
    # the other two were converged already
    assert not [key for key, res in results.items() if res["changed"]], results
    assert write_marks(lab, "cluster3", "meshfed.io/federation=" + FEDERATION) == before


def test_once_reachable_again_the_cluster_converges_too(lab, inventories):
    run = federate(lab, inventories.base)
    assert_converged(run)
    assert "VirtualService default/ratings" in apply_results(run)[("cluster3", "import")]["deleted"]
    assert ratings_objects(lab, "cluster3") == []
    assert_unchanged(federate(lab, inventories.base))
