# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure apply plan: buckets, comparison rules, ordering, redaction."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.apply import (
    SPEC_HASH, DuplicateObjectError, HostClaim, describe_host_conflict, host_conflict_report, host_covers, is_subset,
    object_key, plan_changes, plan_diffs, plan_summary, redact, resolve_host, spec_hash, stamp, write_waves, writes)

OWNER = {"app.kubernetes.io/managed-by": "meshfed", "meshfed.io/federation": "f", "meshfed.io/role": "export"}
NS = "istio-private-gateways"


def vs(name, host="a.example.com", labels=None, namespace=NS):
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(OWNER if labels is None else labels)},
            "spec": {"hosts": [host], "http": [{"route": [{"destination": {"host": "x", "port": {"number": 80}}}]}]}}


def core(kind, name, namespace="n", api_version="v1", **fields):
    meta = {"name": name, "labels": dict(OWNER)}
    if namespace:
        meta["namespace"] = namespace
    return dict({"apiVersion": api_version, "kind": kind, "metadata": meta}, **fields)


def secret(name="cred", **fields):
    fields.setdefault("type", "Opaque")
    return core("Secret", name, **fields)


def applied(obj):
    """What the API server returns after we applied obj: our stamp plus server bookkeeping and defaults (in an
    object of its own, as a response is)."""
    live = copy.deepcopy(stamp(obj))
    meta = live["metadata"]
    meta.update(uid="u-" + meta["name"], resourceVersion="7", generation=1, creationTimestamp="2026-01-01T00:00:00Z",
                managedFields=[{"manager": "meshfed", "operation": "Apply"}])
    meta["labels"]["added-by-a-controller"] = "yes"
    meta["annotations"]["kubectl.kubernetes.io/other"] = "x"
    live["status"] = {"conditions": []}
    return live


def plan(desired, owned=(), names=(), **kwargs):
    return plan_changes(desired, [copy.deepcopy(o) for o in owned], [copy.deepcopy(o) for o in names], OWNER,
                        **kwargs)


def summary(desired, owned=(), names=(), **kwargs):
    return plan_summary(plan(desired, owned, names, **kwargs))


# --- buckets ---

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
    assert [(c.desired["metadata"]["name"], c.live, c.adopt) for c in result.update] == [("a", foreign, True)]


def test_object_of_another_federation_or_role_is_foreign():
    other_federation = vs("a", labels=dict(OWNER, **{"meshfed.io/federation": "other"}))
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


# --- ordering ---

def test_writes_follow_dependency_order_and_deletes_the_reverse():
    desired = [vs("v"), core("Deployment", "d", api_version="apps/v1"), core("Namespace", "n", namespace=None),
               core("RoleBinding", "rb", api_version="rbac.authorization.k8s.io/v1"), secret(),
               core("Gateway", "g", api_version="networking.istio.io/v1"), core("ServiceAccount", "sa"),
               core("Service", "s"), core("PodDisruptionBudget", "p", api_version="policy/v1"),
               core("HorizontalPodAutoscaler", "h", api_version="autoscaling/v2"),
               core("Role", "r", api_version="rbac.authorization.k8s.io/v1"),
               core("DestinationRule", "dr", api_version="networking.istio.io/v1"),
               core("ServiceEntry", "se", api_version="networking.istio.io/v1")]
    expected = ["Namespace", "ServiceAccount", "Secret", "Role", "RoleBinding", "Service", "Deployment",
                "HorizontalPodAutoscaler", "PodDisruptionBudget", "ServiceEntry", "DestinationRule", "Gateway",
                "VirtualService"]
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


# --- Secrets ---

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


def test_secret_values_never_appear_in_diffs_but_their_change_does():
    key = base64.b64encode(b"-----BEGIN PRIVATE KEY-----new").decode()
    old_key = base64.b64encode(b"-----BEGIN PRIVATE KEY-----old").decode()
    desired = secret(type="kubernetes.io/tls", data={"tls.key": key, "tls.crt": "Y2VydA=="})
    live = applied(desired)
    live["data"]["tls.key"] = old_key
    live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = '{"data":{"tls.key":"%s"}}' % old_key
    diffs = plan_diffs(plan([desired], owned=[live]))
    assert len(diffs) == 1
    assert key not in repr(diffs) and old_key not in repr(diffs)
    assert diffs[0]["before"]["data"]["tls.key"].startswith("<redacted sha256:")
    assert diffs[0]["before"]["data"]["tls.key"] != diffs[0]["after"]["data"]["tls.key"]
    assert diffs[0]["before"]["data"]["tls.crt"] == diffs[0]["after"]["data"]["tls.crt"]


def test_redact_hashes_string_data_and_data_of_equal_bytes_alike():
    as_string = redact(secret(stringData={"k": "value"}))
    as_data = redact(secret(data={"k": base64.b64encode(b"value").decode()}))
    assert as_string["stringData"]["k"] == as_data["data"]["k"] != "value"
    assert redact(vs("a"))["spec"] == vs("a")["spec"]  # only Secrets are redacted


# --- diffs ---

def test_diff_shows_only_what_we_manage_and_no_server_noise():
    live = applied(vs("a"))
    desired = vs("a", host="b.example.com")
    diff = plan_diffs(plan([desired], owned=[live]))[0]
    assert diff["before_header"] == diff["after_header"] == "VirtualService %s/a" % NS
    assert diff["before"]["spec"]["hosts"] == ["a.example.com"] and diff["after"]["spec"]["hosts"] == ["b.example.com"]
    assert "status" not in diff["before"] and "uid" not in diff["before"]["metadata"]
    assert "added-by-a-controller" not in diff["before"]["metadata"]["labels"]


def test_diff_of_create_and_delete():
    diffs = plan_diffs(plan([vs("new")], owned=[applied(vs("gone"))]))
    assert [(d["before_header"], bool(d["before"]), bool(d["after"])) for d in diffs] == [
        ("VirtualService %s/new" % NS, False, True), ("VirtualService %s/gone" % NS, True, False)]


# --- helpers ---

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


# --- the pure helpers of kube_client: which requests read_live sends ---

def test_kinds_to_read_are_the_role_kinds_and_the_desired_kinds_once_each():
    from ansible_collections.meshfed.federation.plugins.module_utils.kube_client import kinds_to_read
    role = [("v1", "Service"), ("networking.istio.io/v1", "VirtualService")]
    desired = [vs("a"), vs("b"), core("Namespace", "n", namespace=None)]
    desired[1]["apiVersion"] = "networking.istio.io/v1beta1"
    assert sorted(kinds_to_read(desired, role)) == [
        ("networking.istio.io/v1beta1", "VirtualService"), ("v1", "Namespace"), ("v1", "Service")]
    assert kinds_to_read([], role) == role


def test_missing_objects_are_grouped_by_kind_and_namespace():
    from ansible_collections.meshfed.federation.plugins.module_utils.kube_client import missing_by_place
    desired = [vs("a"), vs("b"), vs("c", namespace="other"), core("Service", "s")]
    groups = missing_by_place(desired, {object_key(vs("a"))})
    assert dict((place, [o["metadata"]["name"] for o in objs]) for place, objs in groups.items()) == {
        ("networking.istio.io/v1", "VirtualService", NS): ["b"],
        ("networking.istio.io/v1", "VirtualService", "other"): ["c"],
        ("v1", "Service", "n"): ["s"]}


def test_deployment_is_available_only_for_its_current_generation():
    from ansible_collections.meshfed.federation.plugins.module_utils.kube_client import is_available
    available = {"type": "Available", "status": "True"}
    deployment = {"metadata": {"generation": 2}, "status": {"observedGeneration": 2, "conditions": [available]}}
    assert is_available(deployment)
    assert not is_available(dict(deployment, status={"observedGeneration": 1, "conditions": [available]}))
    assert not is_available(dict(deployment, status={"observedGeneration": 2, "conditions": [
        {"type": "Available", "status": "False"}]}))
    assert not is_available(None)


def test_unreachable_and_api_errors_read_well():
    from ansible_collections.meshfed.federation.plugins.module_utils.kube_client import (
        api_message, is_unreachable, unreachable_message)
    refused = Exception("HTTPSConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: /version "
                        "(Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object>: Failed to "
                        "establish a new connection: [Errno 111] Connection refused'))")
    assert is_unreachable(refused)
    assert unreachable_message("c1", "https://127.0.0.1:1", refused) == (
        "cluster c1: API server at https://127.0.0.1:1 unreachable: [Errno 111] Connection refused")

    class Forbidden(Exception):
        status = 403
        body = b'{"kind":"Status","message":"services is forbidden: User \\"x\\" cannot list"}'

    assert not is_unreachable(Forbidden())
    assert api_message(Forbidden()) == 'services is forbidden: User "x" cannot list'


def test_an_existing_namespace_of_someone_else_is_shared_not_a_conflict():
    namespace = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": "istio-private-gateways", "labels": dict(OWNER)}}
    users = {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": "istio-private-gateways", "labels": {"team": "mesh"}, "uid": "u1"}}
    result = plan_changes([namespace], [], [users], OWNER)
    assert not result.conflict and not result.update and not result.create
    assert [c.live for c in result.unchanged] == [users]


# --- hosts: someone else's VirtualService or DestinationRule for a host an import stands for ---

DOMAIN = "cluster.local"
EGRESS_HOST = "istio-private-egressgateway.istio-private-gateways.svc.cluster.local"
CLAIMS = (
    HostClaim("default", "VirtualService", "reviews.default.svc.cluster.local", False, ("default/reviews",),
              "the local name", "one VirtualService per host"),
    HostClaim("default", "DestinationRule", "reviews.default.svc.cluster.local", False, ("default/reviews",),
              "the local name", "merged"),
    HostClaim("default", "DestinationRule", EGRESS_HOST, True, ("default/reviews", "default/details"),
              "the egress gateway", "shadowed"),
)


def users(kind, name, namespace="default", **spec):
    return {"apiVersion": "networking.istio.io/v1", "kind": kind,
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}}, "spec": spec}


def conflicts_of(live, desired=(), claims=CLAIMS):
    result = plan_changes(list(desired), [], [], OWNER, host_claims=claims, live_hosted=live, cluster_domain=DOMAIN)
    return [(c.live["kind"], c.live["metadata"]["namespace"], c.live["metadata"]["name"], c.host, c.claim.reason)
            for c in result.host_conflict]


def test_hosts_resolve_as_istio_reads_them():
    assert resolve_host("reviews", "default", DOMAIN) == "reviews.default.svc.cluster.local"
    for written in ("reviews.default.svc.cluster.local", "reviews.default", "*.default.svc.cluster.local", "*",
                    "10.0.0.1", "2001:db8::1"):
        assert resolve_host(written, "default", DOMAIN) == written
    assert host_covers("*.default.svc.cluster.local", "reviews.default.svc.cluster.local")
    assert host_covers("*.local", EGRESS_HOST) and host_covers("*", EGRESS_HOST)
    assert not host_covers("*.local", EGRESS_HOST, wildcards=False)
    assert not host_covers("*.bookinfo.svc.cluster.local", "reviews.default.svc.cluster.local")
    assert host_covers("Reviews.default.svc.cluster.local", "reviews.default.svc.cluster.local")


def test_a_user_rule_for_the_local_name_short_or_fqdn_is_a_conflict_in_its_namespace_only():
    assert conflicts_of([users("DestinationRule", "mine", host="reviews", subsets=[{"name": "v3"}]),
                         users("DestinationRule", "fqdn", host="reviews.default.svc.cluster.local"),
                         # a short name in another namespace is another service
                         users("DestinationRule", "theirs", "bookinfo", host="reviews"),
                         # a rule in another namespace is never looked up for clients in default
                         users("DestinationRule", "far", "bookinfo", host="reviews.default.svc.cluster.local"),
                         # less specific than the import's own rule: ours wins
                         users("DestinationRule", "all", host="*.default.svc.cluster.local",
                               trafficPolicy={"tls": {"mode": "ISTIO_MUTUAL"}})]) == [
        ("DestinationRule", "default", "fqdn", "reviews.default.svc.cluster.local", "merged"),
        ("DestinationRule", "default", "mine", "reviews", "merged")]


def test_a_user_wildcard_rule_in_an_importing_namespace_shadows_the_egress_rule():
    assert conflicts_of([users("DestinationRule", "mtls", host="*.local",
                               trafficPolicy={"tls": {"mode": "ISTIO_MUTUAL"}})]) == [
        ("DestinationRule", "default", "mtls", "*.local", "shadowed")]
    assert conflicts_of([users("DestinationRule", "egress", host=EGRESS_HOST)]) == [
        ("DestinationRule", "default", "egress", EGRESS_HOST, "shadowed")]


def test_a_user_route_for_the_local_name_conflicts_where_sidecars_in_the_namespace_see_it():
    assert conflicts_of([
        users("VirtualService", "mine", hosts=["reviews"]),
        # less specific than the import's: Istio gives the Service the VirtualService with its most specific host
        users("VirtualService", "wild", hosts=["*.default.svc.cluster.local"]),
        # in its own namespace but exported to none (~) or only elsewhere: Istio shows it to no sidecar there
        users("VirtualService", "private", hosts=["reviews"], exportTo=["~"]),
        users("VirtualService", "elsewhere", hosts=["reviews"], exportTo=["bookinfo"]),
        # in its own namespace and exported there
        users("VirtualService", "here", hosts=["reviews"], exportTo=["."]),
        # from another namespace: exported to all (the default), or to default by name
        users("VirtualService", "public", "bookinfo", hosts=["reviews.default.svc.cluster.local"]),
        users("VirtualService", "named", "bookinfo", hosts=["reviews.default.svc.cluster.local"],
              exportTo=["default"]),
        # not seen in default
        users("VirtualService", "dot", "bookinfo", hosts=["reviews.default.svc.cluster.local"], exportTo=["."]),
        users("VirtualService", "elsewhere", "bookinfo", hosts=["reviews.default.svc.cluster.local"],
              exportTo=["apps"]),
        # bound to a gateway only: not a sidecar's route
        users("VirtualService", "edge", hosts=["reviews"], gateways=["istio-system/ingress"]),
        users("VirtualService", "both", hosts=["reviews"], gateways=["istio-system/ingress", "mesh"]),
        users("VirtualService", "ratings", hosts=["ratings"]),
    ]) == [
        ("VirtualService", "bookinfo", "named", "reviews.default.svc.cluster.local", "one VirtualService per host"),
        ("VirtualService", "bookinfo", "public", "reviews.default.svc.cluster.local", "one VirtualService per host"),
        ("VirtualService", "default", "both", "reviews", "one VirtualService per host"),
        ("VirtualService", "default", "here", "reviews", "one VirtualService per host"),
        ("VirtualService", "default", "mine", "reviews", "one VirtualService per host")]


def test_our_objects_and_objects_in_the_way_of_our_names_are_not_host_conflicts():
    ours = users("VirtualService", "reviews", hosts=["reviews.default.svc.cluster.local"])
    ours["metadata"]["labels"] = dict(OWNER)
    in_the_way = users("DestinationRule", "reviews", host="reviews")
    desired = [dict(in_the_way, metadata=dict(in_the_way["metadata"], labels=dict(OWNER)))]
    assert conflicts_of([ours, in_the_way], desired) == []
    # another federation's object is someone else's
    other = users("VirtualService", "other", hosts=["reviews"])
    other["metadata"]["labels"] = dict(OWNER, **{"meshfed.io/federation": "g"})
    assert [c[2] for c in conflicts_of([other])] == ["other"]


def test_host_conflicts_are_reported_with_namespace_kind_name_host_and_import():
    result = plan_changes([], [], [], OWNER, host_claims=CLAIMS, cluster_domain=DOMAIN,
                          live_hosted=[users("DestinationRule", "mtls", host="*.local")])
    assert [host_conflict_report(c) for c in result.host_conflict] == [
        {"namespace": "default", "kind": "DestinationRule", "name": "mtls", "host": "*.local",
         "import_host": EGRESS_HOST, "imports": ["default/reviews", "default/details"], "reason": "shadowed"}]
    assert describe_host_conflict(result.host_conflict[0]) == (
        "DestinationRule default/mtls: host *.local (for %s) is the egress gateway of imports default/reviews, "
        "default/details: shadowed" % EGRESS_HOST)
    assert plan([vs("a")]).host_conflict == []


def test_host_conflicts_stop_the_run_unless_forced_and_read_well():
    from ansible_collections.meshfed.federation.plugins.module_utils.runner import conflict_message, is_blocked
    result = plan_changes([vs("a")], [], [vs("a", labels={"team": "x"})], OWNER, host_claims=CLAIMS,
                          cluster_domain=DOMAIN, live_hosted=[users("DestinationRule", "d", host="reviews")])
    assert is_blocked(result, force=False)
    assert is_blocked(result._replace(conflict=[]), force=False)
    assert not is_blocked(result._replace(conflict=[]), force=True)
    assert not is_blocked(plan([vs("a")]), force=False)
    message = conflict_message("cluster1", result.conflict, result.host_conflict)
    assert message.startswith("cluster cluster1: VirtualService %s/a exists and is not managed by meshfed; " % NS)
    assert ("Objects not managed by meshfed use hosts of its imports: DestinationRule default/d: host reviews "
            "(for reviews.default.svc.cluster.local) is the local name of import default/reviews: merged. ") in message
    assert message.endswith("force=true applies anyway and leaves them as they are. Nothing was changed.")


def test_host_claims_are_listed_per_kind_and_namespace():
    from ansible_collections.meshfed.federation.plugins.module_utils.kube_client import claim_places
    claims = CLAIMS + (HostClaim("apps", "VirtualService", "db.apps.svc.cluster.local", True, ("apps/db",), "", ""),)
    assert claim_places(claims, lambda kind: "networking.istio.io/v1") == [
        ("networking.istio.io/v1", "DestinationRule", "apps"), ("networking.istio.io/v1", "DestinationRule", "default"),
        ("networking.istio.io/v1", "VirtualService", "apps"), ("networking.istio.io/v1", "VirtualService", "default")]


def test_an_authorization_policy_is_written_before_the_gateway_it_guards_and_deleted_after_it():
    from ansible_collections.meshfed.federation.plugins.module_utils.federation_module import role_kinds
    from ansible_collections.meshfed.federation.plugins.module_utils.model import build_model
    policy = core("AuthorizationPolicy", "p", namespace=NS, api_version="security.istio.io/v1")
    gateway = core("Gateway", "p", namespace=NS, api_version="networking.istio.io/v1")
    rule = core("DestinationRule", "r", namespace=NS, api_version="networking.istio.io/v1")
    assert [c.desired["kind"] for c in writes(plan([gateway, policy, rule]))] == [
        "DestinationRule", "AuthorizationPolicy", "Gateway"]
    assert [c.live["kind"] for c in writes(plan([], owned=[applied(gateway), applied(policy)]))] == [
        "Gateway", "AuthorizationPolicy"]
    settings = build_model({"c": {"identity": "c.example.com"}}, {"istio_api_version": "networking.istio.io/v1beta1"})
    assert ("security.istio.io/v1beta1", "AuthorizationPolicy") in role_kinds(settings.settings, "import")
