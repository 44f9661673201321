# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ingress gateway's load balancer settings and the peer keepalive on the lab: with annotations, source ranges
and an external traffic policy in the inventory, cluster2's ingress gateway Service carries them as the lab's real
API server stored them, the consumer's peer DestinationRule has the keepalive, a re-run changes and writes nothing,
and settings dropped from the inventory are dropped from the Service."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import uuid

import pytest

from ansible_collections.meshfed.federation.tests.integration.playbook_runner import (
    run_playbook, settle_namespace, write_inventory, write_marks)

pytestmark = pytest.mark.lab

FEDERATION = "lbset-" + uuid.uuid4().hex[:6]
CLUSTERS = ("cluster1", "cluster2")
GATEWAY_NAMESPACE = "istio-private-gateways"
INGRESS_SERVICE = "istio-private-ingressgateway"
# inert on the lab (no cloud controller reads them), what users write on AWS and GKE
ANNOTATIONS = {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
               "networking.gke.io/load-balancer-type": "Internal"}
# the lab's load balancer addresses are private IPv4 ones; the IPv6 range shows that both families are taken
RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "2001:db8::/48"]
SETTINGS = {"meshfed_ingress_service_annotations": ANNOTATIONS, "meshfed_ingress_load_balancer_source_ranges": RANGES,
            "meshfed_ingress_external_traffic_policy": "Local", "meshfed_peer_tcp_keepalive": {"time": "2m"}}


def inventory_with(directory, lab, settings):
    return write_inventory(directory, lab.kubeconfig, FEDERATION, group_mutate=lambda group: group.update(settings))


@pytest.fixture(scope="module")
def inventory(lab, tmp_path_factory):
    for context in CLUSTERS:
        settle_namespace(lab, context, GATEWAY_NAMESPACE)  # a previous federation's may still be going away
    directory = inventory_with(str(tmp_path_factory.mktemp("inventory")), lab, SETTINGS)
    apps = run_playbook("lab_sample_apps.yml", directory)
    assert apps.rc == 0, apps.stdout[-3000:] + apps.stderr[-3000:]
    yield directory
    run_playbook("unfederate.yml", directory)


def ingress_service(lab):
    return json.loads(lab.kubectl("cluster2", "get", "service", INGRESS_SERVICE, "-n", GATEWAY_NAMESPACE, "-o", "json"))


def peer_rule(lab):
    return json.loads(lab.kubectl("cluster1", "get", "destinationrule", "meshfed-peer-cluster2", "-n",
                                  GATEWAY_NAMESPACE, "-o", "json"))


def assert_changes_nothing(lab, inventory):
    before = dict((c, write_marks(lab, c)) for c in CLUSTERS)
    run = run_playbook("federate.yml", inventory)
    assert run.rc == 0, run.stdout[-5000:]
    assert run.changed_tasks() == []
    assert all(s["changed"] == 0 for s in run.stats().values()), run.stats()
    assert dict((c, write_marks(lab, c)) for c in CLUSTERS) == before


def test_the_ingress_service_carries_the_settings_and_the_peer_rule_the_keepalive(lab, inventory):
    run = run_playbook("federate.yml", inventory)
    assert run.rc == 0, run.stdout[-5000:] + run.stderr[-3000:]
    service = ingress_service(lab)
    annotations = service["metadata"].get("annotations") or {}
    assert dict((k, annotations.get(k)) for k in ANNOTATIONS) == ANNOTATIONS
    assert "meshfed.io/spec-hash" in annotations
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["loadBalancerSourceRanges"] == RANGES
    assert service["spec"]["externalTrafficPolicy"] == "Local"
    # the lab's load balancer still gives the Service its address, which discovery hands the consumer
    assert (service.get("status") or {}).get("loadBalancer", {}).get("ingress")
    assert peer_rule(lab)["spec"]["trafficPolicy"]["connectionPool"] == {
        "tcp": {"tcpKeepalive": {"time": "120s", "interval": "15s", "probes": 3}}}


def test_a_rerun_changes_nothing(lab, inventory):
    assert_changes_nothing(lab, inventory)


def test_settings_dropped_from_the_inventory_are_dropped_from_the_service(lab, inventory):
    fewer = dict(SETTINGS, meshfed_ingress_service_annotations={"networking.gke.io/load-balancer-type": "Internal"},
                 meshfed_ingress_load_balancer_source_ranges=[], meshfed_peer_tcp_keepalive=False)
    del fewer["meshfed_ingress_external_traffic_policy"]
    inventory_with(inventory, lab, fewer)
    run = run_playbook("federate.yml", inventory)
    assert run.rc == 0, run.stdout[-5000:]
    service = ingress_service(lab)
    annotations = service["metadata"].get("annotations") or {}
    assert annotations.get("networking.gke.io/load-balancer-type") == "Internal"
    assert "service.beta.kubernetes.io/aws-load-balancer-type" not in annotations
    assert not service["spec"].get("loadBalancerSourceRanges")
    # no longer ours: the API server's default comes back
    assert service["spec"].get("externalTrafficPolicy") in (None, "Cluster")
    assert "connectionPool" not in peer_rule(lab)["spec"]["trafficPolicy"]
    assert_changes_nothing(lab, inventory)
