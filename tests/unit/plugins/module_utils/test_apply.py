# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.meshfed.federation.plugins.module_utils.apply import (
    SPEC_HASH, plan_changes, plan_diffs, plan_summary, redact, stamp)

OWNER = {"app.kubernetes.io/managed-by": "meshfed", "meshfed.io/federation": "f", "meshfed.io/role": "export"}
PRUNABLE = {"VirtualService", "Service", "Secret"}


def vs(name, host="a.example.com", labels=OWNER, namespace="istio-private-gateways"):
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {"hosts": [host], "http": [{"route": [{"destination": {"host": "x", "port": {"number": 80}}}]}]}}


def as_live(obj):
    """What the API server returns after we applied obj: our stamp plus server-side extras."""
    live = stamp(obj)
    live["metadata"].update(uid="u-" + obj["metadata"]["name"], resourceVersion="7", managedFields=[{"manager": "meshfed"}])
    live["metadata"]["annotations"]["kubectl.kubernetes.io/other"] = "x"
    live["spec"]["http"][0]["route"][0]["weight"] = 100  # defaulted by someone else, never set by us
    live["status"] = {"conditions": []}
    return live


def plan(desired, owned=(), existing=(), **kwargs):
    return plan_changes(desired, list(owned), list(existing), OWNER, PRUNABLE, **kwargs)


def test_new_objects_are_created_in_dependency_order():
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n", "labels": OWNER},
               "spec": {"ports": [{"port": 80}]}}
    summary = plan_summary(plan([vs("a"), service]))
    assert summary["created"] == ["Service n/s", "VirtualService istio-private-gateways/a"]
    assert summary["updated"] == summary["deleted"] == summary["conflicts"] == []


def test_applied_object_with_server_extras_is_unchanged():
    result = plan([vs("a")], owned=[as_live(vs("a"))])
    assert [c.desired["metadata"]["name"] for c in result.unchanged] == ["a"]
    assert not result.create and not result.update


def test_changed_field_is_an_update():
    assert plan_summary(plan([vs("a", host="b.example.com")], owned=[as_live(vs("a"))]))["updated"] == [
        "VirtualService istio-private-gateways/a"]


def test_field_we_stopped_setting_is_an_update():
    before = vs("a")
    before["spec"]["exportTo"] = ["."]
    # the live object still has exportTo (our old value); desired no longer sets it: subset-equal, hash differs
    assert plan_summary(plan([vs("a")], owned=[as_live(before)]))["updated"] == ["VirtualService istio-private-gateways/a"]


def test_drift_by_someone_else_is_an_update():
    live = as_live(vs("a"))
    live["spec"]["hosts"] = ["evil.example.com"]
    assert plan_summary(plan([vs("a")], owned=[live]))["updated"] == ["VirtualService istio-private-gateways/a"]


def test_owned_objects_no_longer_wanted_are_deleted_only_when_pruning_and_prunable():
    owned = [as_live(vs("a")), as_live(vs("gone"))]
    assert plan_summary(plan([vs("a")], owned=owned))["deleted"] == ["VirtualService istio-private-gateways/gone"]
    assert plan_summary(plan([vs("a")], owned=owned, prune=False))["deleted"] == []
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-private-gateways", "labels": OWNER}}
    assert plan_summary(plan([], owned=[namespace]))["deleted"] == []


def test_foreign_object_in_the_way_is_a_conflict_unless_forced():
    foreign = vs("a", labels={"team": "x"})
    foreign["metadata"]["uid"] = "u"
    assert plan_summary(plan([vs("a")], existing=[foreign]))["conflicts"] == ["VirtualService istio-private-gateways/a"]
    forced = plan([vs("a")], existing=[foreign], force=True)
    assert [c.live for c in forced.update] == [foreign] and not forced.conflict


def test_object_of_another_federation_is_foreign():
    other = vs("a", labels=dict(OWNER, **{"meshfed.io/federation": "other"}))
    assert plan_summary(plan([vs("a")], existing=[other]))["conflicts"] == ["VirtualService istio-private-gateways/a"]


def test_stamp_is_stable_and_content_sensitive():
    assert stamp(vs("a"))["metadata"]["annotations"][SPEC_HASH] == stamp(copy.deepcopy(vs("a")))["metadata"]["annotations"][SPEC_HASH]
    assert stamp(vs("a"))["metadata"]["annotations"][SPEC_HASH] != stamp(vs("a", host="c"))["metadata"]["annotations"][SPEC_HASH]


def test_secret_values_never_appear_in_diffs():
    key = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t"
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "c", "namespace": "n", "labels": OWNER},
              "type": "kubernetes.io/tls", "data": {"tls.key": key, "tls.crt": "Y2VydA=="}}
    live = stamp(secret)
    live["data"] = {"tls.key": "b2xk", "tls.crt": "Y2VydA=="}
    live["metadata"]["uid"] = "u"
    diffs = plan_diffs(plan([secret], owned=[live]))
    assert len(diffs) == 1 and key not in repr(diffs) and "b2xk" not in repr(diffs)
    assert diffs[0]["before"]["data"]["tls.key"] != diffs[0]["after"]["data"]["tls.key"]  # the change stays visible
    assert redact(secret)["data"]["tls.crt"].startswith("<redacted sha256:")
