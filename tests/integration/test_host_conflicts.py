# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host conflicts as users meet them: federate.yml on the lab's real API servers, with the real Istio CRDs,
against a VirtualService or DestinationRule of the user's own (created with kubectl, no meshfed label, not
named like any object of ours) for the host of an import in the consumer namespace.

The lab inventory's cluster1 imports ``reviews`` (with a local copy and its subset) and ``details`` (no local
copy: the collection creates the Service and routes it to cluster2) into ``default``. Every test federates under
a name of its own and unfederates afterwards. cluster2's gateway address is configured, so neither the lab's
load balancer nor its mesh is needed (``tools/lab/lab up 2 --no-mesh`` is enough).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import uuid

import pytest
import yaml

from ansible_collections.meshfed.federation.tests.integration.playbook_runner import (
    OUR_KINDS, OWNED, owned_objects, run_playbook, settle_namespace, write_inventory)

pytestmark = pytest.mark.lab

CONSUMER = "cluster1"
CLUSTERS = ("cluster1", "cluster2")
NAMESPACE = "default"
GATEWAY_NAMESPACE = "istio-private-gateways"
ISTIO = "networking.istio.io/v1"
DETAILS_FQDN = "details.default.svc.cluster.local"
EGRESS_FQDN = "istio-private-egressgateway.istio-private-gateways.svc.cluster.local"
NO_WRITES = {"apply": 0, "delete": 0}


def configured_address(hosts):
    # a configured peer address: the consumer does not wait for a load balancer to give cluster2's one
    hosts["cluster2"]["meshfed_gateway_address"] = {"address": "172.31.2.100", "port": 15443}


@pytest.fixture(scope="module")
def sample_apps(lab, tmp_path_factory):
    """Bookinfo's pieces (cluster1 default: productpage, reviews v1), as the lab inventory expects them."""
    directory = write_inventory(str(tmp_path_factory.mktemp("apps")), lab.kubeconfig, "hostconf-apps")
    apps = run_playbook("lab_sample_apps.yml", directory)
    assert apps.rc == 0, apps.stdout[-3000:] + apps.stderr[-3000:]


@pytest.fixture
def federation(lab, sample_apps, tmp_path):
    """(name, inventory directory) of a federation of this test only; unfederated afterwards."""
    for context in CLUSTERS:
        settle_namespace(lab, context, GATEWAY_NAMESPACE)  # the previous test's may still be going away
    name = "hostconf-" + uuid.uuid4().hex[:6]
    directory = write_inventory(str(tmp_path / "inventory"), lab.kubeconfig, name, configured_address)
    yield name, directory
    done = run_playbook("unfederate.yml", directory)
    assert done.rc == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture
def user_objects(lab):
    """create(manifest) -> the object as the API server stored it; delete(kind, name); all removed afterwards."""
    created = []

    class UserObjects(object):
        @staticmethod
        def create(obj):
            lab.kubectl(CONSUMER, "create", "-f", "-", input=yaml.safe_dump(obj))
            created.append((obj["kind"], obj["metadata"]["name"]))
            return live(lab, obj["kind"], obj["metadata"]["name"])

        @staticmethod
        def delete(kind, name):
            lab.kubectl(CONSUMER, "delete", resource(kind), name, "-n", NAMESPACE, "--wait=true")
            created.remove((kind, name))

    yield UserObjects
    for kind, name in created:
        lab.kubectl(CONSUMER, "delete", resource(kind), name, "-n", NAMESPACE, "--ignore-not-found")


def resource(kind):
    return {"VirtualService": "virtualservices.networking.istio.io",
            "DestinationRule": "destinationrules.networking.istio.io"}[kind]


def live(lab, kind, name):
    return json.loads(lab.kubectl(CONSUMER, "get", resource(kind), name, "-n", NAMESPACE, "-o", "json"))


def virtual_service(name, hosts, destination=None):
    return {"apiVersion": ISTIO, "kind": "VirtualService",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"team": "bookinfo"}},
            "spec": {"hosts": hosts, "http": [{"timeout": "3s",
                                               "route": [{"destination": {"host": destination or hosts[0]}}]}]}}


def destination_rule(name, host):
    return {"apiVersion": ISTIO, "kind": "DestinationRule",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"team": "bookinfo"}},
            "spec": {"host": host, "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 10}}}}}


def import_objects(lab, federation_name):
    """'kind/namespace/name' of every object of the import role of this federation in the consumer."""
    selector = "%s,meshfed.io/federation=%s,meshfed.io/role=import" % (OWNED, federation_name)
    items = json.loads(lab.kubectl(CONSUMER, "get", OUR_KINDS, "-A", "-l", selector, "-o", "json"))["items"]
    return sorted("%s/%s/%s" % (i["kind"], i["metadata"]["namespace"], i["metadata"]["name"]) for i in items)


def import_result(run, host=CONSUMER, preflight=False):
    """The import task's result of ``host``, or its preflight's (federate.yml plans every cluster first)."""
    results = [res for dummy, name, res in run.task_results("service_import", preflight) if name == host]
    assert len(results) == 1, run.stdout[-3000:]
    return results[0]


def assert_untouched(lab, before):
    after = live(lab, before["kind"], before["metadata"]["name"])
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"], after
    assert after["metadata"]["labels"] == {"team": "bookinfo"}
    assert after["spec"] == before["spec"]


# (user's object, host it names, import host, imports concerned)
CONFLICTS = {
    "virtualservice-short-host": (virtual_service("my-details-routes", ["details"]),
                                  "details", DETAILS_FQDN, ["default/details"]),
    "virtualservice-fqdn": (virtual_service("my-details-routes", [DETAILS_FQDN]),
                            DETAILS_FQDN, DETAILS_FQDN, ["default/details"]),
    "destinationrule-of-an-import-without-local-copy": (destination_rule("my-details-policy", DETAILS_FQDN),
                                                        DETAILS_FQDN, DETAILS_FQDN, ["default/details"]),
    "destinationrule-wildcard-over-the-egress-gateway": (destination_rule("my-mesh-tls", "*.local"), "*.local",
                                                         EGRESS_FQDN, ["default/reviews", "default/details"]),
}


@pytest.mark.parametrize("case", sorted(CONFLICTS))
def test_users_object_for_the_host_of_an_import_stops_the_run_before_anything_of_it_is_created(
        lab, federation, user_objects, case):
    federation_name, inventory = federation
    manifest, host, import_host, imports = CONFLICTS[case]
    kind, name = manifest["kind"], manifest["metadata"]["name"]
    before = user_objects.create(manifest)

    run = run_playbook("federate.yml", inventory)
    assert run.rc != 0, run.stdout[-3000:]
    # the preflight found it and stopped every cluster: the import role itself never ran
    result = import_result(run, preflight=True)
    assert result["blocked"] and not result.get("failed"), result
    assert list(run.task_results("service_import")) == []
    message = run.failure()
    # the cluster, the kind, namespace/name of the user's object, the host and the import
    for part in ("cluster %s:" % CONSUMER, "%s %s/%s" % (kind, NAMESPACE, name), "host %s" % host,
                 "import%s %s" % ("s" if len(imports) > 1 else "", ", ".join(imports)), "Nothing was changed."):
        assert part in message, (part, message)
    reason = result["host_conflicts"][0]["reason"]
    assert reason and reason in message
    assert result["host_conflicts"] == [{"namespace": NAMESPACE, "kind": kind, "name": name, "host": host,
                                         "import_host": import_host, "imports": imports, "reason": reason}]
    assert result["api_requests"]["list"] > 0 and {v: result["api_requests"][v] for v in NO_WRITES} == NO_WRITES

    # nothing of the import in the cluster: not in the consumer namespace, not on the egress gateway
    assert [o for o in owned_objects(lab, CONSUMER, federation_name, OUR_KINDS) if o.split("/")[1] == NAMESPACE] == []
    assert import_objects(lab, federation_name) == []
    assert_untouched(lab, before)


def test_force_applies_anyway_warns_and_leaves_the_users_object_as_it_was(lab, federation, user_objects):
    federation_name, inventory = federation
    before = user_objects.create(virtual_service("my-details-routes", ["details"]))

    for attempt in ("first", "again"):
        run = run_playbook("federate.yml", inventory, "-e", "meshfed_force=true")
        assert run.rc == 0, (attempt, run.stdout[-5000:])
        # again: nothing to write anywhere, so the run stopped at the preflight, which reports and warns as the run did
        result = import_result(run, preflight=attempt == "again")
        assert [c["name"] for c in result["host_conflicts"]] == ["my-details-routes"], (attempt, result)
        warnings = [w for w in result.get("warnings", []) if "VirtualService default/my-details-routes" in w]
        assert len(warnings) == 1, (attempt, result.get("warnings"))
        assert warnings[0].startswith("cluster %s: " % CONSUMER) and "import default/details" in warnings[0]
        if attempt == "first":
            assert {"VirtualService default/details", "Service default/details"} <= set(result["created"]), result
        else:
            # forced, the import is converged like any other: nothing to write, the conflict still reported
            assert result["changed"] is False and result["changes"] == 0, result
            assert {v: result["api_requests"][v] for v in NO_WRITES} == NO_WRITES
            assert list(run.task_results("service_import")) == [] and [
                res.get("skipped") for name, host, res in run.task_results()
                if name == "Converge every role of every cluster" and host == CONSUMER] == [True]
        assert_untouched(lab, before)

    ours = import_objects(lab, federation_name)
    assert "VirtualService/default/details" in ours and "Service/default/details" in ours, ours
    assert live(lab, "VirtualService", "details")["spec"]["hosts"] == [DETAILS_FQDN]


def test_once_the_users_object_is_gone_the_run_converges_and_stays_converged(lab, federation, user_objects):
    federation_name, inventory = federation
    # objects of the user's that do not interfere stay where they are and are never reported
    bystanders = [user_objects.create(virtual_service("productpage-routes", ["productpage"])),
                  user_objects.create(virtual_service("namespace-wide", ["*.default.svc.cluster.local"],
                                                      destination="productpage"))]
    user_objects.create(virtual_service("my-details-routes", [DETAILS_FQDN]))
    blocked = run_playbook("federate.yml", inventory)
    assert blocked.rc != 0
    assert [c["name"] for c in import_result(blocked, preflight=True)["host_conflicts"]] == ["my-details-routes"]
    assert import_objects(lab, federation_name) == []

    user_objects.delete("VirtualService", "my-details-routes")
    run = run_playbook("federate.yml", inventory)
    assert run.rc == 0, run.stdout[-5000:]
    result = import_result(run)
    assert result["changed"] is True and result["host_conflicts"] == [] and not result.get("warnings"), result
    assert "VirtualService/default/details" in import_objects(lab, federation_name)

    again = run_playbook("federate.yml", inventory)
    assert again.rc == 0, again.stdout[-5000:]
    result = import_result(again, preflight=True)  # nothing to write: the run stopped at the preflight
    assert result["changes"] == 0 and result["host_conflicts"] == [], result
    assert {v: result["api_requests"][v] for v in NO_WRITES} == NO_WRITES
    assert all(s["changed"] == 0 for s in again.stats().values()), again.stats()
    for bystander in bystanders:
        assert_untouched(lab, bystander)
