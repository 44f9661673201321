# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight_failure and clusters_left_out filters: what they read of the results the roles registered."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.filter.clusters_left_out import clusters_left_out
from ansible_collections.meshfed.federation.plugins.filter.preflight_failure import preflight_failure

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
