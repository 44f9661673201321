# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The end of a run names the clusters it left out, and why."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.plugin_utils.left_out import left_out_message

OK = {"changed": False, "preflight": True, "blocked": False}
UNREACHABLE = {"failed": True, "preflight": True,
               "msg": "cluster cluster3: API server at https://127.0.0.1:9 unreachable: Connection refused"}


def test_a_run_through_on_every_cluster_names_none():
    results = {"cluster1": [OK, OK, OK], "cluster2": [OK, OK, OK]}
    assert left_out_message(["cluster1", "cluster2"], ["cluster1", "cluster2"], results) == ""


def test_a_cluster_that_failed_is_named_with_the_message_of_its_failed_task():
    results = {"cluster1": [OK, OK, OK], "cluster2": [OK, OK, OK], "cluster3": [UNREACHABLE, None, None]}
    assert left_out_message(["cluster1", "cluster2", "cluster3"], ["cluster1", "cluster2"], results) == (
        "This run left out 1 of its 3 clusters, where it failed: cluster cluster3: API server at "
        "https://127.0.0.1:9 unreachable: Connection refused")


def test_a_message_that_does_not_name_its_cluster_is_given_the_name_and_one_without_a_message_says_so():
    results = {"cluster1": [OK, {"failed": True, "msg": "kubeconfig missing"}], "cluster2": [OK, OK, {"skipped": True}],
               "cluster3": [OK]}
    assert left_out_message(["cluster1", "cluster2", "cluster3"], ["cluster3"], results) == (
        "This run left out 2 of its 3 clusters, where it failed: cluster cluster1: kubeconfig missing; "
        "cluster cluster2: failed (see its failed task above)")


def test_clusters_outside_the_run_are_not_named():
    # --limit cluster1: the play lists cluster2 too, which registered nothing
    assert left_out_message(["cluster1", "cluster2"], ["cluster1"], {"cluster1": [OK], "cluster2": [None, None]}) == ""
    assert left_out_message(["cluster1", "cluster2"], ["cluster1"], {"cluster1": [OK]}) == ""
