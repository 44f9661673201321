# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/render.yml: the objects federate.yml would apply, one file per object, written without contacting any
cluster; applied by another tool (kubectl standing in for Argo CD or Flux), meshfed finds them its own and
unchanged."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat
import uuid

import pytest
import yaml

from ansible_collections.meshfed.federation.tests.integration.playbook_runner import (
    run_playbook, settle_namespace, write_inventory)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

GATEWAY_NAMESPACE = "istio-private-gateways"
CLUSTERS = ("cluster1", "cluster2")
# cluster2's address given, not discovered: rendering contacts no cluster
CLUSTER2_ADDRESS = {"address": "172.31.2.100", "port": 15443}
UNREACHABLE_KUBECONFIG = "/nonexistent/kubeconfig"


def with_address(hosts):
    hosts["cluster2"]["meshfed_gateway_address"] = dict(CLUSTER2_ADDRESS)


def rendered(directory):
    """cluster -> role -> {file name: object} of a render directory."""
    found = {}
    for cluster in sorted(os.listdir(directory)):
        for role in sorted(os.listdir(os.path.join(directory, cluster))):
            role_dir = os.path.join(directory, cluster, role)
            for name in sorted(os.listdir(role_dir)):
                with open(os.path.join(role_dir, name)) as f:
                    found.setdefault(cluster, {}).setdefault(role, {})[name] = yaml.safe_load(f)
    return found


def render(inventory, out, *extra):
    return run_playbook("render.yml", inventory, "-e", "meshfed_render_dir=%s" % out, *extra, plain=True)


def test_render_writes_one_file_per_object_without_any_cluster(tmp_path):
    # the kubeconfig does not exist: a single request to a cluster would fail the run
    inventory = write_inventory(str(tmp_path / "inventory"), UNREACHABLE_KUBECONFIG, "render-" + uuid.uuid4().hex[:6],
                                mutate=with_address)
    out = tmp_path / "out"
    run = render(inventory, out)
    assert run.rc == 0, run.stdout[-3000:]
    files = rendered(str(out))
    assert sorted(files) == ["cluster1", "cluster2"]
    assert sorted(files["cluster2"]) == ["export", "gateway"]  # cluster2 imports nothing
    assert sorted(files["cluster1"]) == ["gateway", "import"]
    assert "virtualservice-default-reviews.yaml" in files["cluster1"]["import"]
    assert "gateway-istio-private-gateways-meshfed-export-reviews-v2.yaml" in files["cluster2"]["export"]
    for cluster in files.values():
        for objects in cluster.values():
            for name, obj in objects.items():
                assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "meshfed"
                assert "meshfed.io/spec-hash" in obj["metadata"]["annotations"], name
    # no Secret unless asked
    assert not [n for c in files.values() for objects in c.values() for n in objects if n.startswith("secret-")]

    # an export removed from the inventory: its files go at the next render, nothing else changes
    def without_details(hosts):
        with_address(hosts)
        hosts["cluster2"]["meshfed_exports"] = [e for e in hosts["cluster2"]["meshfed_exports"] if e["name"] != "details"]
        hosts["cluster1"]["meshfed_imports"] = [i for i in hosts["cluster1"]["meshfed_imports"] if i["name"] != "details"]

    inventory = write_inventory(inventory, UNREACHABLE_KUBECONFIG, yaml.safe_load(
        open(os.path.join(inventory, "group_vars", "meshfed_clusters.yml")))["meshfed_federation_name"],
        mutate=without_details)
    assert render(inventory, out).rc == 0
    again = rendered(str(out))
    gone = set(files["cluster2"]["export"]) - set(again["cluster2"]["export"])
    assert gone and all("details" in name for name in gone)
    assert again["cluster2"]["gateway"] == files["cluster2"]["gateway"]


def test_render_of_a_discovered_peer_names_it_and_what_to_set(tmp_path):
    inventory = write_inventory(str(tmp_path / "inventory"), UNREACHABLE_KUBECONFIG, "render-" + uuid.uuid4().hex[:6])
    run = render(inventory, tmp_path / "out")
    assert run.rc != 0
    assert ("Rendering needs the gateway address of cluster2: their meshfed_gateway_address is `discover`, which only "
            "their cluster can answer. Set it in the inventory") in run.stdout
    # said before anything was written
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("inventory", ["example", "example-org-a", "example-org-b", "lab"])
def test_render_of_a_shipped_inventory_says_what_to_set_before_writing(tmp_path, inventory):
    run = render(os.path.join(REPO, "inventories", inventory), tmp_path / "out")
    assert run.rc != 0 and "Rendering needs the gateway address of " in run.stdout, run.stdout[-3000:]
    assert not (tmp_path / "out").exists()


@pytest.mark.lab
def test_objects_rendered_and_applied_by_another_tool_are_meshfeds_and_unchanged(lab, tmp_path):
    name = "gitops-" + uuid.uuid4().hex[:6]
    inventory = write_inventory(str(tmp_path / "inventory"), lab.kubeconfig, name, mutate=with_address)
    for context in CLUSTERS:
        settle_namespace(lab, context, GATEWAY_NAMESPACE)
    out = tmp_path / "out"
    run = render(inventory, out, "-e", "meshfed_render_secrets=true")
    try:
        assert run.rc == 0, run.stdout[-3000:]
        assert "PRIVATE KEY" not in run.stdout + run.stderr
        secret_file = out / "cluster2" / "gateway" / "secret-istio-private-gateways-c2-example-com-certs.yaml"
        assert stat.S_IMODE(os.stat(str(secret_file)).st_mode) == 0o600
        assert "tls.key" in yaml.safe_load(secret_file.read_text())["data"]
        # the way a GitOps tool applies them: namespaces first, then the rest, under its own field manager
        for cluster in CLUSTERS:
            paths = sorted(str(p) for p in (out / cluster).rglob("*.yaml"))
            for batch in ([p for p in paths if "/namespace-" in p], [p for p in paths if "/namespace-" not in p]):
                args = []
                for path in batch:
                    args += ["-f", path]
                lab.kubectl(cluster, "apply", "--server-side", "--field-manager=gitops", *args)
        check = run_playbook("federate.yml", inventory, "--check")
        assert check.rc == 0, check.stdout[-3000:]
        files = rendered(str(out))
        for dummy, host, res in check.task_results():
            if res.get("action", "").split(".")[-1] in ("private_gateway", "service_export", "service_import"):
                assert (res["created"], res["updated"], res["deleted"]) == ([], [], []), (host, res["summary"])
                assert len(res["unchanged"]) == len(files[host].get(res["role"], {})), (host, res["summary"])
    finally:
        unfederated = run_playbook("unfederate.yml", inventory)
    assert unfederated.rc == 0, unfederated.stdout[-3000:]
    left = lab.kubectl("cluster2", "get", "gateways.networking.istio.io", "-A", "-l", "meshfed.io/federation=" + name,
                       "-o", "name")
    assert left.strip() == ""
