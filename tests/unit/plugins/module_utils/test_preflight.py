# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight across every cluster: a role's preflight result, and the one verdict over every cluster."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.apply.engine import conflict_message
from ansible_collections.meshfed.federation.plugins.module_utils.apply.preflight import preflight_result
from ansible_collections.meshfed.federation.plugins.plugin_utils.preflight_verdict import (
    nothing_to_change, preflight_failure)
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.objects import NS, applied, plan, vs
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.test_hosts import CLAIMS, DOMAIN, users

FOREIGN = {"team": "x"}


def blocked_plan():
    return plan([vs("a"), vs("b"), vs("c")], owned=[applied(vs("b"))], names=[vs("a", labels=FOREIGN)])


def host_plan():
    return plan([vs("a")], host_claims=CLAIMS, cluster_domain=DOMAIN,
                live_hosted=[users("VirtualService", "mine", hosts=["reviews"])])


def test_a_preflight_result_says_what_blocks_the_run_in_the_words_of_its_failure():
    result = preflight_result("cluster2", "export", blocked_plan(), False, False)
    assert result == {
        "cluster": "cluster2", "role": "export", "preflight": True, "changed": False, "blocked": True, "in_the_way": True,
        "objects": 3, "changes": 2,
        "conflicts": ["VirtualService %s/a" % NS],
        "conflict_reasons": "VirtualService %s/a exists and is not managed by meshfed; remove it or set force=true to "
                            "adopt it." % NS}
    assert conflict_message("cluster2", blocked_plan().conflict) == (
        "cluster cluster2: %s Nothing was changed." % result["conflict_reasons"])


def test_a_clear_plan_and_forced_host_conflicts_do_not_block():
    clear = preflight_result("cluster1", "gateway", plan([vs("a")]), False, False)
    assert (clear["blocked"], clear["conflict_reasons"], clear["conflicts"]) == (False, "", [])
    assert "host_conflicts" not in clear
    hosted = preflight_result("cluster1", "import", host_plan(), False, True)
    assert hosted["blocked"] and hosted["conflicts"] == []
    assert hosted["conflict_reasons"].startswith("Objects not managed by meshfed use hosts of its imports: "
                                                 "VirtualService default/mine: host reviews")
    assert [c["name"] for c in hosted["host_conflicts"]] == ["mine"]
    forced = preflight_result("cluster1", "import", host_plan(), True, True)
    assert not forced["blocked"] and forced["conflict_reasons"] == "" and len(forced["host_conflicts"]) == 1


def test_nothing_blocked_anywhere_is_no_failure():
    clear = preflight_result("cluster1", "gateway", plan([vs("a")]), False, False)
    assert preflight_failure([("cluster1", [clear, clear]), ("cluster2", [clear])]) == ""
    assert preflight_failure([]) == ""


def test_the_failure_names_each_blocked_cluster_once_with_the_reasons_of_all_its_roles():
    clear = preflight_result("cluster1", "gateway", plan([vs("a")]), False, False)
    export = preflight_result("cluster2", "export", blocked_plan(), False, False)
    imports = preflight_result("cluster2", "import", host_plan(), False, True)
    third = preflight_result("cluster3", "export", blocked_plan(), False, False)
    skipped = {"changed": False, "skipped": True}
    message = preflight_failure([("cluster1", [clear, skipped, None]), ("cluster2", [clear, export, imports]),
                                 ("cluster3", [third])])
    assert message.startswith("Objects are in the way in cluster2, cluster3 (2 of the 3 clusters the preflight read), "
                              "so this run changes no cluster. cluster cluster2: VirtualService %s/a exists" % NS)
    assert message.count("cluster cluster2: ") == 1 and message.count("Nothing was changed.") == 2
    cluster2 = message.split("cluster cluster2: ")[1].split("cluster cluster3: ")[0]
    assert cluster2 == "%s %s Nothing was changed. " % (export["conflict_reasons"], imports["conflict_reasons"])
    assert message.endswith("cluster cluster3: %s Nothing was changed." % third["conflict_reasons"])
    assert "cluster1" not in message


def test_only_preflight_results_count():
    # a run's failed result (not a preflight) is some other failure, already reported by its own task
    failed_run = {"failed": True, "blocked": True, "conflict_reasons": "x", "msg": "x"}
    assert preflight_failure([("cluster1", [failed_run])]) == ""


def test_the_converge_is_skipped_only_when_every_role_of_every_cluster_planned_no_write():
    unchanged = preflight_result("cluster1", "gateway", plan([vs("a")], owned=[applied(vs("a"))]), False, False)
    assert unchanged["changes"] == 0 and unchanged["objects"] == 1
    creates = preflight_result("cluster1", "gateway", plan([vs("a")]), False, False)
    prunes = preflight_result("cluster1", "export", plan([], owned=[applied(vs("old"))]), False, False)
    adopts = preflight_result("cluster1", "export", blocked_plan(), True, False)
    assert (creates["changes"], prunes["changes"], adopts["changes"]) == (1, 1, 2)
    assert nothing_to_change([("cluster1", [unchanged] * 3), ("cluster2", [unchanged] * 3)])
    for changing in (creates, prunes, adopts):
        assert not nothing_to_change([("cluster1", [unchanged] * 3), ("cluster2", [unchanged, changing, unchanged])])
    # not known to be unchanged: no result, a skipped or failed one, a run's result, one from before changes counted
    skipped = {"changed": False, "skipped": True}
    failed = dict(unchanged, failed=True)
    old = dict((k, v) for k, v in unchanged.items() if k != "changes")
    run = dict(unchanged, preflight=False)
    for unknown in (None, skipped, failed, old, run):
        assert not nothing_to_change([("cluster1", [unchanged, unknown, unchanged])])
    assert not nothing_to_change([]) and not nothing_to_change([("cluster1", [])])
