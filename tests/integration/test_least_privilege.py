# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""federate.yml, a re-run and unfederate.yml with a kubeconfig whose identity holds only the shipped ClusterRole
(docs/rbac/meshfed-cluster-role.yaml): a ServiceAccount token per cluster, nothing else."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import subprocess

import pytest
import yaml

from ansible_collections.meshfed.federation.tests.integration.playbook_runner import (
    REPO, owned_objects, run_playbook, settle_namespace, write_inventory, write_marks, OUR_KINDS)

pytestmark = [pytest.mark.lab, pytest.mark.slow]

FEDERATION = "leastpriv"
NAMESPACE = "meshfed-operator"
CLUSTERS = ("cluster1", "cluster2")
ROLE = os.path.join(REPO, "docs", "rbac", "meshfed-cluster-role.yaml")
LOCK_ROLE = os.path.join(REPO, "docs", "rbac", "meshfed-lock-role.yaml")


def token_kubeconfig(lab, path, account):
    """A kubeconfig for ``account`` (a ServiceAccount of NAMESPACE) in every cluster: the lab's servers and CAs,
    the account's token as the only credential."""
    with open(lab.kubeconfig) as f:
        lab_config = yaml.safe_load(f)
    clusters = dict((c["name"], c) for c in lab_config["clusters"])
    contexts = dict((c["name"], c["context"]) for c in lab_config["contexts"])
    config = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": [],
              "current-context": CLUSTERS[0]}
    for name in CLUSTERS:
        lab.kubectl_run(name, "create", "namespace", NAMESPACE)
        lab.kubectl_run(name, "create", "serviceaccount", account, "-n", NAMESPACE)
        token = lab.kubectl(name, "create", "token", account, "-n", NAMESPACE, "--duration=2h").strip()
        config["clusters"].append(dict(clusters[contexts[name]["cluster"]], name=name))
        config["users"].append({"name": name, "user": {"token": token}})
        config["contexts"].append({"name": name, "context": {"cluster": name, "user": name}})
    with open(path, "w") as out:
        yaml.safe_dump(config, out)
    os.chmod(path, 0o600)
    return path


@pytest.fixture(scope="module")
def least_privilege(lab, tmp_path_factory):
    root = tmp_path_factory.mktemp("least-privilege")
    for name in CLUSTERS:
        lab.kubectl(name, "apply", "-f", ROLE, "-f", LOCK_ROLE)
        settle_namespace(lab, name, "istio-private-gateways")
    kubeconfig = token_kubeconfig(lab, str(root / "kubeconfig"), "meshfed")
    unbound = token_kubeconfig(lab, str(root / "unbound"), "nobody")
    for name in CLUSTERS:
        lab.kubectl_run(name, "delete", "clusterrolebinding", "meshfed-operator")
        lab.kubectl(name, "create", "clusterrolebinding", "meshfed-operator", "--clusterrole=meshfed-operator",
                    "--serviceaccount=%s:meshfed" % NAMESPACE)
        lab.kubectl_run(name, "delete", "rolebinding", "meshfed-operator-lock", "-n", "kube-system")
        lab.kubectl(name, "create", "rolebinding", "meshfed-operator-lock", "-n", "kube-system",
                    "--role=meshfed-operator-lock", "--serviceaccount=%s:meshfed" % NAMESPACE)
    inventory = write_inventory(str(root / "inventory"), kubeconfig, FEDERATION)
    apps = run_playbook("lab_sample_apps.yml", write_inventory(str(root / "apps"), lab.kubeconfig, FEDERATION),
                        "--limit", ",".join(CLUSTERS))
    assert apps.rc == 0, apps.stdout[-3000:]
    yield inventory, unbound
    run_playbook("unfederate.yml", write_inventory(str(root / "admin"), lab.kubeconfig, FEDERATION,
                                                   pki_dir=str(root / "inventory") + "-pki"))
    for name in CLUSTERS:
        lab.kubectl_run(name, "delete", "clusterrolebinding", "meshfed-operator")
        lab.kubectl_run(name, "delete", "rolebinding", "meshfed-operator-lock", "-n", "kube-system")
        lab.kubectl_run(name, "delete", "namespace", NAMESPACE, "--wait=false")


def test_the_lab_enforces_rbac(lab, least_privilege):
    dummy, unbound = least_privilege
    done = subprocess.run([lab.kubectl_binary, "--kubeconfig", unbound, "--context", "cluster1", "get", "namespaces"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0 and "forbidden" in done.stderr.lower(), (done.stdout, done.stderr)


def test_federate_rerun_and_unfederate_with_only_the_shipped_role(lab, least_privilege):
    inventory, dummy = least_privilege
    first = run_playbook("federate.yml", inventory)
    assert first.rc == 0, first.stdout[-5000:]
    assert owned_objects(lab, "cluster2", FEDERATION, OUR_KINDS)
    again = run_playbook("federate.yml", inventory)
    assert again.rc == 0 and not again.changed_tasks(), again.changed_tasks()
    status = run_playbook("status.yml", inventory, "-e", "meshfed_probe=false")
    assert status.rc == 0, status.stdout[-3000:]
    gone = run_playbook("unfederate.yml", inventory)
    assert gone.rc == 0, gone.stdout[-5000:]
    for name in CLUSTERS:
        left = [o for o in owned_objects(lab, name, FEDERATION, OUR_KINDS) if not o.startswith("Namespace/")]
        assert not left, (name, left)


def marks(lab):
    """The write marks of every object of our kinds, once the federation unfederated before has gone."""
    for name in CLUSTERS:
        settle_namespace(lab, name, "istio-private-gateways")
    return dict((name, write_marks(lab, name)) for name in CLUSTERS)


def test_an_identity_without_the_rights_is_refused_naming_the_verb_and_the_resource(lab, least_privilege, tmp_path):
    dummy, unbound = least_privilege
    inventory = write_inventory(str(tmp_path / "unbound"), unbound, FEDERATION + "-unbound")
    before = marks(lab)
    run = run_playbook("federate.yml", inventory)
    assert run.rc != 0
    message = run.failure()
    # the first request a cluster's role sends is a list, of a kind of the role, in its namespace or all of them
    assert re.match(r"cluster cluster[12]: not allowed to (list|get|read API discovery) .*\(403\): .*forbidden: "
                    r"User \"system:serviceaccount:%s:nobody\" cannot \w+ resource \"[a-z.]+\"" % NAMESPACE,
                    message), message
    assert "Traceback" not in run.stdout
    assert marks(lab) == before


def test_rejected_credentials_are_refused_as_such(lab, least_privilege, tmp_path):
    inventory, dummy = least_privilege
    with open(os.path.join(inventory, "group_vars", "meshfed_clusters.yml")) as f:
        kubeconfig = yaml.safe_load(f)["meshfed_kubeconfig"]
    with open(kubeconfig) as f:
        config = yaml.safe_load(f)
    for user in config["users"]:
        user["user"]["token"] = "expired-or-revoked"
    rejected = str(tmp_path / "rejected-kubeconfig")
    with open(rejected, "w") as out:
        yaml.safe_dump(config, out)
    inventory = write_inventory(str(tmp_path / "rejected"), rejected, FEDERATION + "-rejected")
    before = marks(lab)
    run = run_playbook("federate.yml", inventory)
    assert run.rc != 0
    message = run.failure()
    assert re.match(r"cluster cluster[12]: not allowed to .*\(401\): Unauthorized", message), message
    assert "Traceback" not in run.stdout
    assert marks(lab) == before
