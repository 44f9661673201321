# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure plan: buckets, comparison rules, stamps and the order of writes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.apply.plan import (
    SPEC_HASH, DuplicateObjectError, is_subset, plan_changes, plan_summary, spec_hash, stamp, write_waves, writes)
from ansible_collections.meshfed.federation.plugins.module_utils.kube.kinds import KINDS
from ansible_collections.meshfed.federation.plugins.module_utils.kube.labels import owner_selector
from ansible_collections.meshfed.federation.plugins.module_utils.kube.objects import object_key
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.objects import NS, OWNER, applied, core, plan, secret, summary, vs


def test_absent_objects_are_created():
    result = summary([vs("a"), core("Service", "s")])
    assert result["created"] == ["Service n/s", "VirtualService %s/a" % NS]
    assert result["updated"] == result["unchanged"] == result["deleted"] == result["conflicts"] == []


def test_applied_object_with_server_bookkeeping_and_defaults_is_unchanged():
    live = applied(vs("a"))
    live["spec"]["http"][0]["route"][0]["weight"] = 100  # defaulted, never set by us
    live["spec"]["exportTo"] = ["*"]
    result = plan([vs("a")], owned=[live])
    assert [c.desired["metadata"]["name"] for c in result.unchanged] == ["a"]
    assert not result.create and not result.update and writes(result) == []


def test_service_with_server_defaults_is_unchanged():
    service = core("Service", "s", spec={"ports": [{"name": "http", "port": 9080, "targetPort": 9080}]})
    live = applied(service)
    live["spec"].update(clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"], type="ClusterIP", sessionAffinity="None",
                        ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack", internalTrafficPolicy="Cluster")
    live["spec"]["ports"][0]["protocol"] = "TCP"
    assert summary([service], owned=[live])["unchanged"] == ["Service n/s"]


def test_empty_values_we_set_match_what_the_server_dropped():
    desired = core("ConfigMap", "c", data={}, binaryData=None)
    desired["metadata"]["annotations"] = {}
    live = applied(desired)
    del live["data"], live["binaryData"]
    assert summary([desired], owned=[live])["unchanged"] == ["ConfigMap n/c"]


def test_changed_field_is_an_update():
    assert summary([vs("a", host="b.example.com")], owned=[applied(vs("a"))])["updated"] == ["VirtualService %s/a" % NS]


def test_changed_label_we_set_is_an_update():
    live = applied(vs("a"))
    live["metadata"]["labels"]["meshfed.io/export"] = "old"
    desired = vs("a", labels=dict(OWNER, **{"meshfed.io/export": "new"}))
    assert summary([desired], owned=[live])["updated"] == ["VirtualService %s/a" % NS]


def test_list_length_change_is_an_update():
    live = applied(vs("a"))
    live["spec"]["hosts"].append("b.example.com")
    assert summary([vs("a")], owned=[live])["updated"] == ["VirtualService %s/a" % NS]


def test_drift_by_someone_else_is_an_update():
    live = applied(vs("a"))
    live["spec"]["hosts"] = ["evil.example.com"]
    assert summary([vs("a")], owned=[live])["updated"] == ["VirtualService %s/a" % NS]


def test_field_we_stopped_setting_is_an_update():
    before = vs("a")
    before["spec"]["exportTo"] = ["."]
    # live still has our old exportTo: desired is a subset of it, but the stamped hash differs
    assert summary([vs("a")], owned=[applied(before)])["updated"] == ["VirtualService %s/a" % NS]


def test_other_api_version_of_the_same_object_is_the_same_object():
    live = applied(vs("a"))
    desired = vs("a")
    desired["apiVersion"] = "networking.istio.io/v1beta1"
    assert object_key(live) == object_key(desired)
    assert summary([desired], owned=[live])["updated"] == ["VirtualService %s/a" % NS]  # stamp covers apiVersion


def test_owned_objects_no_longer_desired_are_deleted():
    owned = [applied(vs("a")), applied(vs("gone")), applied(core("Service", "old"))]
    assert summary([vs("a")], owned=owned)["deleted"] == ["VirtualService %s/gone" % NS, "Service n/old"]
    assert summary([vs("a")], owned=owned, prune=False)["deleted"] == []
    assert summary([vs("a")], owned=owned, prunable_kinds={"Service"})["deleted"] == ["Service n/old"]


def test_everything_owned_is_deleted_when_nothing_is_desired():
    assert summary([], owned=[applied(vs("a")), applied(core("Service", "s"))])["deleted"] == [
        "VirtualService %s/a" % NS, "Service n/s"]


def test_foreign_object_with_a_desired_name_is_a_conflict():
    foreign = vs("a", labels={"team": "x"})
    foreign["metadata"].update(uid="u", resourceVersion="3")
    result = plan([vs("a"), vs("b")], names=[foreign])
    assert plan_summary(result)["conflicts"] == ["VirtualService %s/a" % NS]
    assert plan_summary(result)["created"] == ["VirtualService %s/b" % NS]


def test_foreign_object_is_never_deleted():
    foreign = vs("other", labels={"team": "x"})
    assert summary([], names=[foreign])["deleted"] == []


def test_force_adopts_the_foreign_object():
    foreign = vs("a", labels={"team": "x"})
    result = plan([vs("a")], names=[foreign], force=True)
    assert not result.conflict
    assert [(c.desired["metadata"]["name"], c.live) for c in result.update] == [("a", foreign)]


def test_object_of_another_federation_or_role_is_foreign():
    other_federation = vs("a", labels=owner_selector("other", "export"))
    other_role = vs("b", labels=dict(OWNER, **{"meshfed.io/role": "import"}))
    assert summary([vs("a"), vs("b")], names=[other_federation, other_role])["conflicts"] == [
        "VirtualService %s/a" % NS, "VirtualService %s/b" % NS]


def test_metadata_only_object_found_by_name_with_our_labels_counts_as_ours():
    metadata_only = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                     "metadata": {"name": "a", "namespace": NS, "labels": dict(OWNER), "uid": "u"}}
    assert summary([vs("a")], names=[metadata_only])["updated"] == ["VirtualService %s/a" % NS]


def test_duplicate_desired_objects_are_refused():
    with pytest.raises(DuplicateObjectError, match="VirtualService %s/a is rendered twice" % NS):
        plan([vs("a"), vs("a", host="b")])


def test_writes_follow_dependency_order_and_deletes_the_reverse():
    desired = [vs("v"), core("Deployment", "d", api_version="apps/v1"), core("Namespace", "n", namespace=None),
               core("RoleBinding", "rb", api_version="rbac.authorization.k8s.io/v1"), secret(),
               core("Gateway", "g", api_version="networking.istio.io/v1"), core("ServiceAccount", "sa"),
               core("Service", "s"), core("PodDisruptionBudget", "p", api_version="policy/v1"),
               core("HorizontalPodAutoscaler", "h", api_version="autoscaling/v2"),
               core("Role", "r", api_version="rbac.authorization.k8s.io/v1"),
               core("DestinationRule", "dr", api_version="networking.istio.io/v1"),
               core("ServiceEntry", "se", api_version="networking.istio.io/v1"),
               core("EnvoyFilter", "ef", api_version="networking.istio.io/v1alpha3")]
    # the kind table's order (every kind but AuthorizationPolicy is here)
    expected = [kind.name for kind in KINDS if kind.name != "AuthorizationPolicy"]
    assert [c.desired["kind"] for c in writes(plan(desired))] == expected
    # the same with half of them already there and changed: creates and updates interleave by kind
    owned = [applied(dict(o, metadata=dict(o["metadata"], labels=dict(OWNER, old="1")))) for o in desired[::2]]
    assert [c.desired["kind"] for c in writes(plan(desired, owned=owned))] == expected
    deleted = writes(plan([], owned=[applied(o) for o in desired]))
    assert [c.live["kind"] for c in deleted] == expected[::-1]


def test_write_waves_group_one_kind_each_in_write_order():
    desired = [vs("v1"), vs("v2", host="b.example.com"), core("Namespace", "n", namespace=None),
               core("Service", "s1"), core("Service", "s2"), core("ServiceEntry", "se", api_version="networking.istio.io/v1")]
    stale = [applied(core("Service", "old")), applied(vs("gone")), applied(vs("gone2"))]
    waves = write_waves(plan(desired, owned=stale))
    shape = [[(c.desired or c.live)["kind"] + ("-" if c.desired is None else "") for c in wave] for wave in waves]
    assert shape == [["Namespace"], ["Service", "Service"], ["ServiceEntry"], ["VirtualService", "VirtualService"],
                     ["VirtualService-", "VirtualService-"], ["Service-"]]
    # nothing lost, nothing reordered
    assert [c for wave in waves for c in wave] == writes(plan(desired, owned=stale))
    assert write_waves(plan([], owned=[])) == []


def test_secret_data_equal_bytes_in_other_base64_spelling_is_unchanged():
    desired = secret(data={"k": "dmFsdWU="})
    live = applied(desired)
    live["data"]["k"] = "dmFs\ndWU="  # same bytes, wrapped
    assert summary([desired], owned=[live])["unchanged"] == ["Secret n/cred"]


def test_secret_string_data_compares_with_the_data_the_server_keeps():
    desired = secret(stringData={"k": "value"}, data={"other": base64.b64encode(b"x").decode()})
    live = applied(desired)
    live.pop("stringData")
    live["data"] = {"k": base64.b64encode(b"value").decode(), "other": "eA=="}
    assert summary([desired], owned=[live])["unchanged"] == ["Secret n/cred"]
    live["data"]["k"] = base64.b64encode(b"changed").decode()
    assert summary([desired], owned=[live])["updated"] == ["Secret n/cred"]


def test_is_subset_rules():
    assert is_subset({"a": 1}, {"a": 1, "b": 2})
    assert not is_subset({"a": 1, "c": 3}, {"a": 1})
    assert is_subset([{"a": 1}], [{"a": 1, "b": 2}])
    assert not is_subset([{"a": 1}], [{"a": 1}, {"a": 2}])
    assert is_subset({"a": {}}, {}) and is_subset({"a": []}, {"a": None}) and not is_subset({"a": [1]}, {})
    assert not is_subset("1", 1)


def test_stamp_is_stable_and_content_sensitive():
    first = stamp(vs("a"))["metadata"]["annotations"][SPEC_HASH]
    assert first == stamp(copy.deepcopy(vs("a")))["metadata"]["annotations"][SPEC_HASH]
    assert first == stamp(stamp(vs("a")))["metadata"]["annotations"][SPEC_HASH]
    assert first != stamp(vs("a", host="c"))["metadata"]["annotations"][SPEC_HASH]


def test_stamping_leaves_the_rendered_object_as_it_was():
    rendered = vs("a")
    rendered["metadata"]["annotations"] = {"team": "x"}
    before = copy.deepcopy(rendered)
    stamped = stamp(rendered)
    assert rendered == before
    assert stamped["metadata"]["annotations"] == {"team": "x", SPEC_HASH: spec_hash(rendered)}


def test_an_existing_namespace_of_someone_else_is_shared_not_a_conflict():
    namespace = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": "istio-private-gateways", "labels": dict(OWNER)}}
    users = {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": "istio-private-gateways", "labels": {"team": "mesh"}, "uid": "u1"}}
    result = plan_changes([namespace], [], [users], OWNER)
    assert not result.conflict and not result.update and not result.create
    assert [c.live for c in result.unchanged] == [users]


def test_an_authorization_policy_is_written_before_the_gateway_it_guards_and_deleted_after_it():

    policy = core("AuthorizationPolicy", "p", namespace=NS, api_version="security.istio.io/v1")
    gateway = core("Gateway", "p", namespace=NS, api_version="networking.istio.io/v1")
    rule = core("DestinationRule", "r", namespace=NS, api_version="networking.istio.io/v1")
    assert [c.desired["kind"] for c in writes(plan([gateway, policy, rule]))] == [
        "DestinationRule", "AuthorizationPolicy", "Gateway"]
    assert [c.live["kind"] for c in writes(plan([], owned=[applied(gateway), applied(policy)]))] == [
        "Gateway", "AuthorizationPolicy"]
