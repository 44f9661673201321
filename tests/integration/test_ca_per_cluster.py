# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's inventory with a CA per cluster (meshfed_ca_scope: cluster) on the real mesh: every cluster is a party
of its own, its gateways trusting each other cluster's CA only for that cluster's servers and links."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import json
import os
import ssl

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.peering import envelope as bundle
from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki
from ansible_collections.meshfed.federation.tests.integration.mesh import (
    Mesh, forged, mutual_tls_handshake, until, via_sidecar)
from ansible_collections.meshfed.federation.tests.integration.playbook_runner import (
    pki_dir_for, run_playbook, settle_namespace, write_inventory)

pytestmark = [pytest.mark.lab, pytest.mark.slow]

FEDERATION = "percluster"
GATEWAYS = "istio-private-gateways"
DETAILS = "details.default.svc.cluster.local"
REVIEWS = "reviews.default.svc.cluster.local"


def play(lab, inventory, playbook, *extra, **kwargs):
    run = run_playbook(playbook, inventory, *extra, env={"MESHFED_LAB_DIR": lab.dir}, timeout=900, **kwargs)
    assert run.rc == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return run


@pytest.fixture(scope="module")
def per_cluster(lab, tmp_path_factory):
    mesh = Mesh(lab)
    if not mesh.state or not mesh.state.get("operator_netns"):
        pytest.fail("the lab runs without its mesh (tools/lab/lab up --no-mesh); run tools/lab/lab up 3", pytrace=False)
    inventory = write_inventory(str(tmp_path_factory.mktemp("inventory")), lab.kubeconfig, FEDERATION,
                                group_mutate=lambda group: group.update(meshfed_ca_scope="cluster"))
    play(lab, inventory, "lab_sample_apps.yml", "--limit", "cluster1,cluster2")
    for context in ("cluster1", "cluster2"):
        settle_namespace(lab, context, GATEWAYS)
    try:
        play(lab, inventory, "federate.yml")
        proxies = {"productpage": mesh.wait_ready("cluster1", "default", "productpage-v1")}
        mesh.wait_ready("cluster2", GATEWAYS, "istio-private-ingressgateway")
        until(lambda: via_sidecar(proxies["productpage"], DETAILS, 9080, "/details/0")[0] == 200, timeout=150)
        yield inventory, mesh, proxies
    finally:
        run_playbook("unfederate.yml", inventory, env={"MESHFED_LAB_DIR": lab.dir}, timeout=900)


def ca_of(pki_dir, cluster):
    with open(os.path.join(pki_dir, cluster, "ca.crt"), "rb") as f:
        return f.read()


def test_each_cluster_has_its_own_ca_and_key_files(per_cluster):
    inventory, dummy, dummy = per_cluster
    pki_dir = pki_dir_for(inventory)
    assert bundle.fingerprint(ca_of(pki_dir, "cluster1")) != bundle.fingerprint(ca_of(pki_dir, "cluster2"))
    for cluster in ("cluster1", "cluster2"):
        with open(os.path.join(pki_dir, cluster, cluster + ".crt"), "rb") as f:
            leaf = pki.load_cert(f.read())
        assert pki.signed_by(leaf, pki.load_cert(ca_of(pki_dir, cluster)))
        other = "cluster2" if cluster == "cluster1" else "cluster1"
        assert not pki.signed_by(leaf, pki.load_cert(ca_of(pki_dir, other)))
        for name in ("ca.key", cluster + ".key"):
            assert os.stat(os.path.join(pki_dir, cluster, name)).st_mode & 0o777 == 0o600


def test_requests_flow_with_a_ca_per_cluster(per_cluster):
    dummy, dummy, proxies = per_cluster
    status, body = via_sidecar(proxies["productpage"], DETAILS, 9080, "/details/0")
    assert status == 200 and body["namespace"] == "bookinfo", body
    seen = collections.Counter()
    for i in range(40):
        status, body = via_sidecar(proxies["productpage"], REVIEWS, 9080, "/reviews/%d" % i)
        assert status == 200, body
        seen[body["version"]] += 1
    assert set(seen) == {"v1", "v2"}, seen


def test_the_exporters_own_ca_cannot_pass_for_the_consumer(per_cluster, lab, tmp_path):
    inventory, mesh, dummy = per_cluster
    pki_dir = pki_dir_for(inventory)
    address = json.loads(lab.kubectl("cluster2", "get", "service", "-n", GATEWAYS, "istio-private-ingressgateway",
                                     "-o", "json"))["status"]["loadBalancer"]["ingress"][0]["ip"]
    sni = "reviews-v2.cluster1.c2.example.com"
    server_ca = os.path.join(pki_dir, "cluster2", "ca.crt")
    operator = mesh.state["operator_netns"]
    assert mutual_tls_handshake(operator, address, 15443, sni, os.path.join(pki_dir, "cluster1", "cluster1.crt"),
                                os.path.join(pki_dir, "cluster1", "cluster1.key"), server_ca)
    cert, key = forged(tmp_path, os.path.join(pki_dir, "cluster2"), "c1.example.com")
    with pytest.raises((ssl.SSLError, OSError)):
        mutual_tls_handshake(operator, address, 15443, sni, cert, key, server_ca)


def test_status_probes_every_link_ok_and_a_rerun_changes_nothing(per_cluster, lab):
    inventory, mesh, dummy = per_cluster
    status = play(lab, inventory, "status.yml", netns=mesh.state["operator_netns"])
    links = [link for dummy, host, res in status.task_results("federation_info") if host == "cluster1"
             for link in res.get("cluster", {}).get("links") or []]
    assert links and {link["state"] for link in links} == {"ok"}, links
    again = play(lab, inventory, "federate.yml")
    assert not again.changed_tasks(), again.changed_tasks()
