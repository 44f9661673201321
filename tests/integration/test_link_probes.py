# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""status.yml's link probes on the lab's real mesh: the seed scenario (inventories/lab, whose details export has
probe_path /details/0) federated, status.yml run from the lab's operator network namespace (where the load
balancer addresses are reachable, as from an operator's machine or an AWX execution node) against cluster2's
real Envoy ingress gateway. Then links broken for real: the gateway scaled to zero (unreachable), certificates
the gateway does not accept (refused), a CA that did not sign the peer (peer certificate wrong)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki
from ansible_collections.meshfed.federation.tests.integration.mesh import Mesh, until
from ansible_collections.meshfed.federation.tests.integration.playbook_runner import REPO, run_playbook, settle_namespace

pytestmark = [pytest.mark.lab, pytest.mark.slow]

INVENTORY = os.path.join(REPO, "inventories", "lab")
GATEWAYS = "istio-private-gateways"
INGRESS = "istio-private-ingressgateway"
LINKS = [("default", "reviews", "cluster2", "reviews-v2"), ("default", "details", "cluster2", "details")]


def play(lab, playbook, *extra):
    run = run_playbook(playbook, INVENTORY, *extra, env={"MESHFED_LAB_DIR": lab.dir}, timeout=900)
    assert run.rc == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return run


def status(lab, mesh, *extra):
    """status.yml from the operator's namespace."""
    return run_playbook("status.yml", INVENTORY, *extra, env={"MESHFED_LAB_DIR": lab.dir},
                        netns=mesh.state["operator_netns"], timeout=300)


def probed(run):
    """cluster -> its federation_info result with the links."""
    return {host: res for dummy, host, res in run.task_results("federation_info") if "links" in res.get("cluster", {})}


def links_of(run, cluster="cluster1"):
    return probed(run)[cluster]["cluster"]["links"]


def failure(run):
    """The message of status.yml's failing task, or None."""
    return next((res["msg"] for dummy, dummy_host, res in run.task_results("fail") if res.get("failed")), None)


def all_ok(lab, mesh):
    run = status(lab, mesh)
    return run if run.rc == 0 and all(link["state"] == "ok" for link in links_of(run)) else None


def ingress_address(lab):
    service = json.loads(lab.kubectl("cluster2", "get", "service", "-n", GATEWAYS, INGRESS, "-o", "json"))
    return service["status"]["loadBalancer"]["ingress"][0]["ip"]


def scale_ingress(lab, replicas):
    lab.kubectl("cluster2", "scale", "deployment", "-n", GATEWAYS, INGRESS, "--replicas=%d" % replicas)


@pytest.fixture(scope="module")
def federated(lab):
    mesh = Mesh(lab)
    if not mesh.state or not mesh.state.get("operator_netns"):
        pytest.fail("the lab runs without its mesh (tools/lab/lab up --no-mesh); run tools/lab/lab up 3", pytrace=False)
    play(lab, "lab_sample_apps.yml", "--limit", "cluster1,cluster2")
    for context in ("cluster1", "cluster2"):
        settle_namespace(lab, context, GATEWAYS)  # a previous federation's may still be going away
    play(lab, "federate.yml")
    mesh.wait_ready("cluster2", GATEWAYS, INGRESS)
    for prefix in ("details-v1", "reviews-v2"):
        mesh.wait_ready("cluster2", "bookinfo", prefix)
    # the gateway's Envoy serves the export Gateways a moment after it holds its certificate
    assert until(lambda: all_ok(lab, mesh), timeout=120, interval=2), "the links never came up"
    yield mesh
    scale_ingress(lab, 1)
    play(lab, "unfederate.yml")


def test_every_link_is_ok_with_its_handshake_time_and_http_status(federated, lab):
    run = status(lab, federated, "-e", "meshfed_status_query=links[?state!='ok']")
    assert run.rc == 0, run.stdout[-4000:] + run.stderr[-4000:]
    links = links_of(run)
    assert [(l["namespace"], l["import"], l["peer"], l["export"]) for l in links] == LINKS
    address = ingress_address(lab)
    for link in links:
        assert link["state"] == "ok", link
        assert link["handshake_ms"] > 0, link
        assert (link["address"], link["port"], link["protocol"]) == (address, 15443, "http")
        assert link["sni"] == link["export"] + ".c2.example.com"
        assert link["peer_identity"] == "c2.example.com" and link["peer_certificate_days_left"] > 300
        assert link["probed_at"].endswith("Z")
    assert [l["http_status"] for l in links] == [None, 200]  # only details names a probe_path
    assert links[1]["detail"] == "GET /details/0 answered 200"
    results = probed(run)
    assert (results["cluster1"]["cluster"]["links_down"], results["cluster2"]["cluster"]["links"]) == (0, [])
    assert {host: res["query_result"] for host, res in results.items()} == {"cluster1": [], "cluster2": []}
    assert run.changed_tasks() == [] and failure(run) is None
    # a query picks fields across links
    run = status(lab, federated, "-e", json.dumps({"meshfed_status_query": "links[?http_status].[import, http_status]"}))
    assert probed(run)["cluster1"]["query_result"] == [["details", 200]]


def test_a_gateway_down_is_unreachable_and_fails_the_run_unless_report_only(federated, lab, tmp_path):
    mesh = federated
    scale_ingress(lab, 0)
    try:
        assert until(lambda: mesh.find("cluster2", GATEWAYS, INGRESS) is None, timeout=60), "the gateway pod stayed"
        report = str(tmp_path / "federation.md")
        run = status(lab, mesh, "-e", "meshfed_report=" + report)
        assert run.rc != 0
        # the run that alerts still writes its report, showing the links down
        with open(report) as f:
            assert f.read().count("unreachable") >= 2
        links = links_of(run)
        assert [l["state"] for l in links] == ["unreachable", "unreachable"], links
        assert all(l["handshake_ms"] is None and "TCP connection failed" in l["detail"] for l in links), links
        message = failure(run)
        assert message.startswith("2 link(s) down: "), message
        assert "cluster1 default/details -> cluster2/details: unreachable (TCP connection failed" in message
        assert "cluster1 default/reviews -> cluster2/reviews-v2: unreachable" in message
        run = status(lab, mesh, "-e", "meshfed_status_report_only=true")
        assert run.rc == 0 and failure(run) is None, run.stdout[-4000:]
        assert probed(run)["cluster1"]["cluster"]["links_down"] == 2
    finally:
        scale_ingress(lab, 1)
    mesh.wait_ready("cluster2", GATEWAYS, INGRESS)
    assert until(lambda: all_ok(lab, mesh), timeout=120, interval=2), "the links did not come back"


def pki_copy(lab, tmp_path, name, leaf_identity, leaf_ca, trust):
    """A PKI directory for status.yml where cluster1's certificate carries ``leaf_identity``, signed by
    ``leaf_ca`` ('federation' or 'foreign'), and the trusted CA is ``trust`` (the same words)."""
    real = os.path.join(lab.dir, "pki", "bookinfo-lab")
    with open(os.path.join(real, "ca.crt"), "rb") as f:
        ca_cert = pki.load_cert(f.read())
    with open(os.path.join(real, "ca.key"), "rb") as f:
        ca_key = pki.load_key(f.read())
    foreign_key = pki.generate_key()
    cas = {"federation": (ca_cert, ca_key), "foreign": (pki.build_ca(foreign_key, common_name="foreign"), foreign_key)}
    directory = tmp_path / name
    directory.mkdir()
    key = pki.generate_key()
    (directory / "cluster1.key").write_bytes(pki.key_to_pem(key))
    (directory / "cluster1.crt").write_bytes(pki.cert_to_pem(pki.build_leaf(key, leaf_identity, *cas[leaf_ca])))
    for name in ("ca.crt", "trusted-cas.pem"):  # the CA, and what the gateways trust
        (directory / name).write_bytes(pki.cert_to_pem(cas[trust][0]))
    shutil.copy(os.path.join(real, "cluster2.crt"), str(directory / "cluster2.crt"))
    shutil.copy(os.path.join(real, "cluster2.key"), str(directory / "cluster2.key"))
    return str(directory)


@pytest.mark.parametrize("case, leaf_identity, leaf_ca, trust, state", [
    # cluster3's identity from the federation's CA: not in the exports' consumers, refused by the handshake
    ("not-granted", "c3.example.com", "federation", "federation", "refused"),
    # cluster1's identity from a CA cluster2's gateway does not trust
    ("not-trusted", "c1.example.com", "foreign", "federation", "refused"),
    # our certificate is fine, but we trust another CA: cluster2's certificate does not verify
    ("peer-not-from-our-ca", "c1.example.com", "federation", "foreign", "peer_certificate_wrong"),
])
def test_certificates_the_link_does_not_accept(federated, lab, tmp_path, case, leaf_identity, leaf_ca, trust, state):
    directory = pki_copy(lab, tmp_path, case, leaf_identity, leaf_ca, trust)
    run = status(lab, federated, "-e", "meshfed_pki_dir=" + directory)
    assert run.rc != 0
    links = links_of(run)
    assert [l["state"] for l in links] == [state, state], links
    if state == "refused":
        # TLS 1.3: our side of the handshake completes, the gateway's refusal comes right after
        assert all(l["handshake_ms"] > 0 and l["peer_identity"] == "c2.example.com" for l in links), links
    else:
        assert all("does not verify against the federation's CA" in l["detail"] for l in links), links
    message = failure(run)
    for namespace, name, peer, export in LINKS:
        assert "cluster1 %s/%s -> %s/%s: %s (" % (namespace, name, peer, export, state) in message, message
