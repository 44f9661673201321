# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Someone else's VirtualService or DestinationRule for a host an import stands for."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.kube.hosts import (
    HostClaim, claim_places, describe_host_conflict, host_conflict_report, host_covers, resolve_host)
from ansible_collections.meshfed.federation.plugins.module_utils.apply.plan import plan_changes
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.objects import OWNER, plan, vs


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


def test_host_claims_are_listed_per_kind_and_namespace():

    claims = CLAIMS + (HostClaim("apps", "VirtualService", "db.apps.svc.cluster.local", True, ("apps/db",), "", ""),)
    assert claim_places(claims, lambda kind: "networking.istio.io/v1") == [
        ("networking.istio.io/v1", "DestinationRule", "apps"), ("networking.istio.io/v1", "DestinationRule", "default"),
        ("networking.istio.io/v1", "VirtualService", "apps"), ("networking.istio.io/v1", "VirtualService", "default")]
