# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine's pure parts: which requests read_live sends, why a blocked run changed nothing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.apply.engine import (
    conflict_message, kinds_to_read, missing_by_place, release_namespace_if_empty, wait_pods_gone)
from ansible_collections.meshfed.federation.plugins.module_utils.kube.labels import FEDERATION, MANAGED_BY
from ansible_collections.meshfed.federation.plugins.module_utils.kube.objects import object_key
from ansible_collections.meshfed.federation.plugins.module_utils.apply.plan import is_blocked, plan_changes
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.objects import NS, OWNER, core, plan, vs
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.test_hosts import CLAIMS, DOMAIN, users


def test_kinds_to_read_are_the_role_kinds_and_the_desired_kinds_once_each():

    role = [("v1", "Service"), ("networking.istio.io/v1", "VirtualService")]
    desired = [vs("a"), vs("b"), core("Namespace", "n", namespace=None)]
    desired[1]["apiVersion"] = "networking.istio.io/v1beta1"
    assert sorted(kinds_to_read(desired, role)) == [
        ("networking.istio.io/v1beta1", "VirtualService"), ("v1", "Namespace"), ("v1", "Service")]
    assert kinds_to_read([], role) == role


def test_missing_objects_are_grouped_by_kind_and_namespace():

    desired = [vs("a"), vs("b"), vs("c", namespace="other"), core("Service", "s")]
    groups = missing_by_place(desired, {object_key(vs("a"))})
    assert dict((place, [o["metadata"]["name"] for o in objs]) for place, objs in groups.items()) == {
        ("networking.istio.io/v1", "VirtualService", NS): ["b"],
        ("networking.istio.io/v1", "VirtualService", "other"): ["c"],
        ("v1", "Service", "n"): ["s"]}


def test_host_conflicts_stop_the_run_unless_forced_and_read_well():

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


def test_an_object_of_another_federation_in_the_way_names_that_federation_and_what_to_do():
    theirs = {"app.kubernetes.io/managed-by": "meshfed", "meshfed.io/federation": "payments", "meshfed.io/role": "export"}
    result = plan_changes([vs("a"), vs("b")], [], [vs("a", labels=theirs), vs("b", labels={"team": "x"})], OWNER)
    assert is_blocked(result, force=False)
    message = conflict_message("cluster1", result.conflict)
    assert ("VirtualService %s/b exists and is not managed by meshfed; remove it or set force=true to adopt it." % NS
            in message)
    assert ("VirtualService %s/a belongs to the meshfed federation 'payments' (another inventory, or another "
            "meshfed_federation_name): federations that share a cluster each need their own meshfed_gateway_namespace"
            % NS) in message
    assert "adopt" not in message.split("payments")[1]  # never suggested for another federation's objects
    forced = plan_changes([vs("a"), vs("b")], [], [vs("a", labels=theirs), vs("b", labels={"team": "x"})], OWNER,
                          force=True)
    assert [c.live["metadata"]["name"] for c in forced.conflict] == ["a"]  # force adopts only what no federation owns
    assert [c.live["metadata"]["name"] for c in forced.update] == ["b"]


class NamespaceClient(object):
    """A cluster holding our gateway namespace with ``content`` in it."""

    def __init__(self, content, labels):
        self.content = content
        self.namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gw", "labels": labels}}
        self.deleted = []

    def get(self, obj):
        return self.namespace

    def list_namespace(self, api_version, kind, namespace):
        return [o for o in self.content if o["kind"] == kind and o["metadata"]["namespace"] == namespace]

    def delete(self, obj):
        self.deleted.append(obj["metadata"]["name"])


def config_map(name, namespace="gw", labels=None):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace,
                                                                  "labels": labels or {}}}


def test_a_namespace_istiod_wrote_its_ca_config_maps_into_is_still_released():
    labels = {MANAGED_BY: "meshfed", FEDERATION: "demo"}
    istio_written = [config_map("istio-ca-root-cert", labels={"istio.io/config": "true"}), config_map("istio-ca-crl"),
                     config_map("kube-root-ca.crt")]
    client = NamespaceClient(istio_written, labels)
    assert release_namespace_if_empty(client, "gw", labels, check_mode=False) == "deleted"
    assert client.deleted == ["gw"]
    # a ConfigMap of anyone else keeps it
    client = NamespaceClient(istio_written + [config_map("team-settings")], labels)
    result = release_namespace_if_empty(client, "gw", labels, check_mode=False)
    assert result.startswith("kept: ") and "ConfigMap gw/team-settings" in result and not client.deleted


class PodsGoing(object):
    """A namespace whose pods, listed again and again, are ``lists`` one after the other (then the last)."""

    def __init__(self, lists):
        self.lists = lists
        self.listed = 0

    def list_namespace(self, api_version, kind, namespace):
        assert (api_version, kind, namespace) == ("v1", "Pod", "gw")
        self.listed += 1
        return self.lists[min(self.listed, len(self.lists)) - 1]


def pod(name, labels):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "gw", "labels": labels}}


def gateway_deployment():
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ingress", "namespace": "gw"},
            "spec": {"selector": {"matchLabels": {"istio": "ingress"}}}}


def test_deleted_gateways_are_waited_for_until_their_pods_are_gone_before_their_credentials_go():
    first, second, other = pod("ingress-1", {"istio": "ingress"}), pod("ingress-2", {"istio": "ingress", "x": "y"}), \
        pod("someone-else", {"app": "other"})
    client = PodsGoing([[first, second, other], [second, other], [other]])
    slept = []
    wait_pods_gone(client, [gateway_deployment()], sleep=slept.append)
    assert client.listed == 3 and slept == [1.0, 1.0]  # someone else's pod is not waited for


def test_pods_that_do_not_go_are_waited_for_no_longer_than_the_timeout():
    client = PodsGoing([[pod("ingress-1", {"istio": "ingress"})]])
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds
    wait_pods_gone(client, [gateway_deployment()], timeout=5, clock=lambda: now[0], sleep=sleep)
    assert now[0] == 5.0 and client.listed == 6
