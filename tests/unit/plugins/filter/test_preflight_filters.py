# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight_failure and clusters_left_out filters: what they read of the results the roles registered."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.filter.clusters_left_out import clusters_left_out
from ansible_collections.meshfed.federation.plugins.filter.preflight_failure import preflight_failure
from ansible_collections.meshfed.federation.plugins.filter.preflight_unchanged import preflight_unchanged

CLEAR = {"preflight": True, "blocked": False, "conflict_reasons": "", "changed": False,
         "invocation": {"module_args": {"federation": {"clusters": {}}}}}
BLOCKED = dict(CLEAR, blocked=True, conflicts=["Gateway istio-private-gateways/meshfed-export-ratings"],
               conflict_reasons="Gateway istio-private-gateways/meshfed-export-ratings exists and is not managed by "
                                "meshfed; remove it or set force=true to adopt it.")
UNREACHABLE = {"failed": True, "preflight": True,
               "msg": "cluster cluster3: API server at https://127.0.0.1:9 unreachable: Connection refused"}


def hostvars():
    return {
        "cluster1": {"private_gateway_result": CLEAR, "service_export_result": CLEAR, "service_import_result": CLEAR},
        "cluster2": {"private_gateway_result": CLEAR, "service_export_result": BLOCKED, "service_import_result": CLEAR},
        "cluster3": {"private_gateway_result": UNREACHABLE},
        "cluster4": {"meshfed_identity": "c4.example.com"},  # outside --limit: nothing registered
    }


def test_the_preflight_failure_names_the_blocked_clusters_among_those_still_in_the_play():
    message = preflight_failure(hostvars(), ["cluster1", "cluster2"])
    assert message == ("Objects are in the way in cluster2 (1 of the 2 clusters the preflight read), so this run changes "
                       "no cluster. cluster cluster2: %s Nothing was changed." % BLOCKED["conflict_reasons"])
    assert preflight_failure(hostvars(), ["cluster1"]) == ""


def test_the_clusters_left_out_are_those_of_the_run_no_longer_in_the_play():
    every = ["cluster1", "cluster2", "cluster3", "cluster4"]
    assert clusters_left_out(hostvars(), every, ["cluster1", "cluster2"]) == (
        "This run left out 1 of its 3 clusters, where it failed: %s" % UNREACHABLE["msg"])
    assert clusters_left_out(hostvars(), every, ["cluster1", "cluster2", "cluster3"]) == ""


def test_a_cluster_blocked_by_mesh_settings_alone_is_worded_so_through_what_the_roles_registered():
    ambient = dict(CLEAR, blocked=True, in_the_way=False, conflict_reasons="Mesh settings meshfed cannot work with: ...",
                   mesh_settings=[{"blocking": True, "setting": "ambient", "message": "..."}])
    registered = hostvars()
    registered["cluster2"]["service_export_result"] = ambient
    assert preflight_failure(registered, ["cluster1", "cluster2"]).startswith(
        "Mesh settings meshfed cannot work with are in cluster2 (1 of the 2 clusters the preflight read)")


def planned(roles, **top):
    """What federate.yml's federated_cluster task registers: the roles' results under ``roles``."""
    return dict({"changed": False, "roles": roles}, **top)


def test_the_federated_cluster_task_is_read_as_the_roles_own_tasks_would_be():
    every = ["cluster1", "cluster2", "cluster3", "cluster4"]
    one_task = {
        "cluster1": {"meshfed_preflight_result": planned({"private_gateway": CLEAR, "service_export": CLEAR,
                                                          "service_import": CLEAR})},
        "cluster2": {"meshfed_preflight_result": planned({"private_gateway": CLEAR, "service_export": BLOCKED,
                                                          "service_import": CLEAR})},
        "cluster3": {"meshfed_preflight_result": planned({"private_gateway": UNREACHABLE}, failed=True,
                                                         msg=UNREACHABLE["msg"])},
        "cluster4": {"meshfed_identity": "c4.example.com"},
    }
    assert preflight_failure(one_task, ["cluster1", "cluster2"]) == preflight_failure(hostvars(), ["cluster1", "cluster2"])
    assert preflight_unchanged(one_task, ["cluster1"]) is False  # CLEAR has no change count: not known unchanged
    assert clusters_left_out(one_task, every, ["cluster1", "cluster2"]) == (
        "This run left out 1 of its 3 clusters, where it failed: %s" % UNREACHABLE["msg"])


def test_the_federated_cluster_task_wins_over_role_results_of_an_earlier_task():
    """A converge after the preflight registers the roles' own results; the preflight's verdicts read the preflight."""
    nothing_to_do = dict(CLEAR, changes=0, in_the_way=False)
    registered = {"cluster1": {"meshfed_preflight_result": planned(dict((r, nothing_to_do) for r in (
        "private_gateway", "service_export", "service_import"))), "service_export_result": BLOCKED}}
    assert preflight_unchanged(registered, ["cluster1"]) is True
    assert preflight_failure(registered, ["cluster1"]) == ""


def test_the_gateways_planned_first_and_the_other_roles_after_are_read_as_one_preflight():
    """federate.yml plans the gateways of every cluster first when an address is discovered: two registered results."""
    nothing_to_do = dict(CLEAR, changes=0, in_the_way=False)
    registered = {"cluster1": {
        "meshfed_gateway_preflight_result": planned({"private_gateway": nothing_to_do}),
        "meshfed_preflight_result": planned({"service_export": nothing_to_do, "service_import": nothing_to_do})}}
    assert preflight_unchanged(registered, ["cluster1"]) is True
    registered["cluster1"]["meshfed_gateway_preflight_result"] = planned({"private_gateway": BLOCKED})
    assert preflight_unchanged(registered, ["cluster1"]) is False
    assert "cluster cluster1: %s" % BLOCKED["conflict_reasons"] in preflight_failure(registered, ["cluster1"])
    # skipped (no address to discover): only the second one counts, and it planned the gateways too
    registered["cluster1"]["meshfed_gateway_preflight_result"] = {"skipped": True, "changed": False}
    registered["cluster1"]["meshfed_preflight_result"]["roles"]["private_gateway"] = nothing_to_do
    assert preflight_unchanged(registered, ["cluster1"]) is True


def test_a_cluster_whose_converge_failed_is_named_with_the_message_of_its_task():
    """federate.yml's converge tasks (federated_cluster) register the gateways' and exports' result, then the
    imports': the cluster left out during the imports is named with that task's message."""
    nothing_to_do = dict(CLEAR, changes=1, in_the_way=False)
    preflight = planned(dict((r, nothing_to_do) for r in ("private_gateway", "service_export", "service_import")))
    failed = "cluster cluster2: API server at https://127.0.0.1:9 unreachable: Connection reset"
    registered = {
        "cluster1": {"meshfed_preflight_result": preflight, "meshfed_gateways_and_exports_result": planned({}),
                     "meshfed_imports_result": planned({})},
        "cluster2": {"meshfed_preflight_result": preflight, "meshfed_gateways_and_exports_result": planned({}),
                     "meshfed_imports_result": planned({"service_import": {"failed": True, "msg": failed}},
                                                       failed=True, msg=failed)},
    }
    assert clusters_left_out(registered, ["cluster1", "cluster2"], ["cluster1"]) == (
        "This run left out 1 of its 2 clusters, where it failed: %s" % failed)
    # the preflight's verdicts are not read from the converge's results
    assert preflight_failure(registered, ["cluster1", "cluster2"]) == ""
