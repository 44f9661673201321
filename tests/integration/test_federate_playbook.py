# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The product as users run it: federate.yml, unfederate.yml and status.yml on the lab's real clusters.

The steps build on each other (converge, idempotence, check mode, prune, foreign objects, unfederate), so they
run in file order on one federation named uniquely for this run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import uuid

import pytest

from ansible_collections.meshfed.federation.tests.integration.playbook_runner import (
    OUR_KINDS, owned_objects, pki_dir_for, run_playbook, settle_namespace, write_inventory, write_marks)
from ansible_collections.meshfed.federation.tests.integration.secrets_scan import leaked, secret_strings, wrong_modes

pytestmark = pytest.mark.lab

FEDERATION = "itest-" + uuid.uuid4().hex[:6]
CLUSTERS = ("cluster1", "cluster2")
PRIVATE_KEY_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
GATEWAY_NAMESPACE = "istio-private-gateways"
# the progress line of a converged role: cluster, role, objects wanted; counts (by kind only) and the time
# a no-op run stops at the preflight (nothing to write anywhere): its line per cluster and role
PREFLIGHT_LINE = (r"^(cluster\d) (gateway|export|import) preflight: (\d+) objects, to write 0, in the way 0"
                  r"(?:, host conflicts 0)?: clear \[\d+\.\d s\]$")


@pytest.fixture(scope="module")
def inventory(lab, tmp_path_factory):
    for context in CLUSTERS:
        settle_namespace(lab, context, GATEWAY_NAMESPACE)
    directory = str(tmp_path_factory.mktemp("inventory"))
    write_inventory(directory, lab.kubeconfig, FEDERATION)
    apps = run_playbook("lab_sample_apps.yml", directory)
    assert apps.rc == 0, apps.stdout[-3000:] + apps.stderr[-3000:]
    yield directory
    run_playbook("unfederate.yml", directory)


def apply_results(run, preflight=False):
    """{(host, module): result} of the gateway, export and import tasks (of their preflight, with ``preflight``)."""
    results = {}
    for module in ("private_gateway", "service_export", "service_import"):
        for dummy, host, res in run.task_results(module, preflight):
            results[(host, module)] = res
    return results


def test_converge(lab, inventory):
    run = run_playbook("federate.yml", inventory, "--diff")
    assert run.rc == 0, run.stdout[-5000:] + run.stderr[-3000:]
    c1 = owned_objects(lab, "cluster1", FEDERATION, OUR_KINDS)
    c2 = owned_objects(lab, "cluster2", FEDERATION, OUR_KINDS)
    assert "VirtualService/default/reviews" in c1 and "Service/default/details" in c1
    assert "Deployment/istio-private-gateways/istio-private-egressgateway" in c1
    assert "Gateway/istio-private-gateways/meshfed-export-reviews-v2" in c2
    assert "Deployment/istio-private-gateways/istio-private-ingressgateway" in c2
    # the local reviews Service is the application's, never ours
    assert "Service/default/reviews" not in c1
    for context in CLUSTERS:
        ready = lab.kubectl(context, "get", "deployment", "-n", "istio-private-gateways", "-o",
                            "jsonpath={.items[*].status.availableReplicas}")
        assert ready.split() == ["1"], (context, ready)


def test_second_run_changes_nothing_and_writes_nothing(lab, inventory):
    before = {c: write_marks(lab, c) for c in CLUSTERS}
    run = run_playbook("federate.yml", inventory)
    assert run.rc == 0, run.stdout[-5000:]
    assert run.changed_tasks() == []
    assert all(s["changed"] == 0 for s in run.stats().values()), run.stats()
    # every role of every cluster planned no write, so the run stopped there: the converge was skipped
    planned = apply_results(run, preflight=True)
    assert len(planned) == 6 and all(res["changes"] == 0 for res in planned.values()), planned
    assert all(res["api_requests"].get("apply", 0) + res["api_requests"].get("delete", 0) == 0 for res in planned.values())
    assert apply_results(run) == {} and [res.get("skipped") for name, dummy, res in run.task_results()
                                         if name == "Converge every role of every cluster"] == [True] * len(CLUSTERS)
    after = {c: write_marks(lab, c) for c in CLUSTERS}
    assert {(c, k) for c in CLUSTERS for k in after[c] if after[c][k] != before[c].get(k)} == set()


@pytest.mark.parametrize("variable,value", [("service_export_prune", "sometimes"), ("private_gateway_wait_timeout", "soon"),
                                            ("meshfed_state", "gone")])
def test_a_bad_role_variable_is_refused_by_name_before_the_preflight_reads_any_cluster(lab, inventory, variable, value):
    """The preflight runs the roles' modules without their tasks (federated_cluster): their variables are still checked
    as each role checks them (meshfed_state through each role's state), by that task before it reads any cluster."""
    before = {c: write_marks(lab, c) for c in CLUSTERS}
    run = run_playbook("federate.yml", inventory, "-e", "%s=%s" % (variable, value))
    assert run.rc != 0
    message = run.failure()
    assert "Validation of arguments failed" in message and value in message, message
    assert variable in message or variable == "meshfed_state" and "service_export_state" in message, message
    # the preflight's task refused it before it ran any role (it read no cluster)
    preflights = [res for dummy, dummy, res in run.task_results("federated_cluster", preflight=None)]
    assert preflights and all(res.get("failed") and "roles" not in res for res in preflights), preflights
    assert {c: write_marks(lab, c) for c in CLUSTERS} == before


def test_modules_run_in_process_or_as_processes_alike(lab, inventory):
    """On a local connection the action plugins run the modules' code in Ansible's workers; with
    MESHFED_IN_PROCESS=false Ansible runs each module as its own process. Both see a converged federation."""
    modules = ["federation_model", "federation_pki", "private_gateway", "service_export", "service_import"]
    for env, as_processes in (({}, False), ({"MESHFED_IN_PROCESS": "false"}, True)):
        run = run_playbook("federate.yml", inventory, "-vvv", plain=True, env=env)
        assert run.rc == 0, run.stdout[-5000:]
        spawned = [m for m in modules if "AnsiballZ_%s.py" % m in run.stdout]
        assert spawned == (modules if as_processes else []), env
        recap = re.findall(r"^(cluster\d)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", run.stdout, re.M)
        assert sorted(recap) == [("cluster1", "0"), ("cluster2", "0")], recap
        # the preflight's line of each cluster and role, from the result either way (counts by kind, no names)
        progress = re.findall(PREFLIGHT_LINE, run.stdout, re.M)
        assert sorted((c, r) for c, r, dummy in progress) == [(c, r) for c in CLUSTERS
                                                              for r in ("export", "gateway", "import")], env
        wanted = dict(((c, r), int(n)) for c, r, n in progress)
        assert wanted[("cluster1", "import")] > 0 and wanted[("cluster2", "export")] > 0, progress


def test_istioctl_analyze_reports_no_errors(lab, inventory):
    for context in CLUSTERS:
        result = lab.istioctl_analyze(context)
        assert not [m for m in result if m.get("level") == "Error"], result


def test_check_mode_predicts_exactly_the_changes(lab, inventory, tmp_path):
    def shift_weights(hosts):
        reviews = hosts["cluster1"]["meshfed_imports"][0]
        reviews["local"]["weight"] = 80
        reviews["from"][0]["weight"] = 20
        hosts["cluster2"]["meshfed_exports"].append({
            "name": "ratings", "service": {"namespace": "bookinfo", "name": "ratings", "port": 9080},
            "consumers": ["cluster1"]})
    changed_inventory = write_inventory(str(tmp_path), lab.kubeconfig, FEDERATION, shift_weights,
                                        pki_dir=pki_dir_for(inventory))
    before = {c: write_marks(lab, c) for c in CLUSTERS}
    predicted = apply_results(run_playbook("federate.yml", changed_inventory, "--check", "--diff"))
    assert {c: write_marks(lab, c) for c in CLUSTERS} == before, "check mode wrote to a cluster"
    assert predicted[("cluster1", "service_import")]["updated"] == ["VirtualService default/reviews"]
    assert sorted(predicted[("cluster2", "service_export")]["created"]) == [
        "AuthorizationPolicy istio-private-gateways/meshfed-deny-export-ratings",
        "AuthorizationPolicy istio-private-gateways/meshfed-export-ratings",
        "DestinationRule istio-private-gateways/meshfed-local-bookinfo-ratings",
        "Gateway istio-private-gateways/meshfed-export-ratings",
        "VirtualService istio-private-gateways/meshfed-export-ratings"]
    assert predicted[("cluster2", "service_export")]["updated"] == []
    assert all(not res["created"] and not res["updated"] and not res["deleted"]
               for key, res in predicted.items() if key in (("cluster1", "private_gateway"), ("cluster2", "private_gateway")))
    real = apply_results(run_playbook("federate.yml", changed_inventory))
    for key, res in real.items():
        for field in ("created", "updated", "deleted"):
            assert sorted(res[field]) == sorted(predicted[key][field]), (key, field)
    # back to the lab inventory: ratings is no longer exported and disappears
    restored = apply_results(run_playbook("federate.yml", inventory))
    assert "Gateway istio-private-gateways/meshfed-export-ratings" in restored[("cluster2", "service_export")]["deleted"]


def test_removing_an_export_prunes_it_from_both_clusters(lab, inventory, tmp_path):
    def drop_details(hosts):
        hosts["cluster2"]["meshfed_exports"] = [e for e in hosts["cluster2"]["meshfed_exports"] if e["name"] != "details"]
        hosts["cluster1"]["meshfed_imports"] = [i for i in hosts["cluster1"]["meshfed_imports"] if i["name"] != "details"]
    pruned_inventory = write_inventory(str(tmp_path), lab.kubeconfig, FEDERATION, drop_details,
                                       pki_dir=pki_dir_for(inventory))
    run = run_playbook("federate.yml", pruned_inventory)
    assert run.rc == 0, run.stdout[-5000:]
    c1 = owned_objects(lab, "cluster1", FEDERATION, OUR_KINDS)
    c2 = owned_objects(lab, "cluster2", FEDERATION, OUR_KINDS)
    assert not [o for o in c1 if "details" in o], c1
    assert not [o for o in c2 if "meshfed-export-details" in o], c2
    assert "VirtualService/default/reviews" in c1
    # the application's own details Service in cluster2 is untouched
    assert lab.kubectl("cluster2", "get", "service", "details", "-n", "bookinfo", "-o", "name").strip() == "service/details"
    assert run_playbook("federate.yml", inventory).rc == 0


def test_foreign_object_in_the_way_is_reported_and_left_untouched(lab, inventory):
    lab.kubectl("cluster1", "delete", "virtualservice", "reviews", "-n", "default", "--ignore-not-found")
    foreign = ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\n"
               "  namespace: default\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination:\n"
               "        host: reviews\n")
    lab.kubectl("cluster1", "apply", "-f", "-", input=foreign)
    version = lab.kubectl("cluster1", "get", "virtualservice", "reviews", "-n", "default", "-o",
                          "jsonpath={.metadata.resourceVersion}")
    run = run_playbook("federate.yml", inventory, plain=True)
    assert run.rc != 0
    assert "VirtualService default/reviews" in run.stdout and "not managed by meshfed" in run.stdout, run.stdout[-3000:]
    assert lab.kubectl("cluster1", "get", "virtualservice", "reviews", "-n", "default", "-o",
                       "jsonpath={.metadata.resourceVersion}") == version
    labels = lab.kubectl("cluster1", "get", "virtualservice", "reviews", "-n", "default", "-o", "jsonpath={.metadata.labels}")
    assert "meshfed" not in labels
    lab.kubectl("cluster1", "delete", "virtualservice", "reviews", "-n", "default")
    assert run_playbook("federate.yml", inventory).rc == 0


def test_no_output_holds_a_key_or_secret_data_and_key_files_stay_private(lab, inventory):
    """federate, every rotation (new certificates, each stage of a new CA) and status with -vvv --diff: the
    output holds no private key (nor a line of one, nor its base64), no Secret data and no kubeconfig credential
    of any key that existed at any time; after each run the keys are 0600 and the directories 0700."""
    pki = pki_dir_for(inventory)
    # the probes are proven on the real mesh (test_mesh_seed.py): here the output only
    no_probe = ["-e", "meshfed_rotation_probe=false", "-e", "meshfed_rotation_settle_seconds=0"]
    runs = [("federate.yml", []), ("rotate_certificates.yml", []),
            ("rotate_certificates.yml", ["-e", "meshfed_ca_rotation=trust"] + no_probe),
            ("rotate_certificates.yml", ["-e", "meshfed_ca_rotation=issue"] + no_probe),
            ("rotate_certificates.yml", ["-e", "meshfed_ca_rotation=drop"] + no_probe),
            ("status.yml", ["-e", "meshfed_probe=false"])]
    outputs, secrets = [], set()
    for playbook, extra in runs:
        run = run_playbook(playbook, inventory, "-vvv", "--diff", *extra, plain=True)
        assert run.rc == 0, (playbook, extra, run.stdout[-5000:])
        outputs.append(run.stdout + run.stderr)
        secrets |= secret_strings(lab, pki, FEDERATION, CLUSTERS)  # the keys of this stage, before the next one
        assert not wrong_modes(pki), (playbook, extra, wrong_modes(pki))
    assert "istio-private-gateways/c1-example-com-certs" in outputs[1]  # the Secret was updated and shown
    assert len(secrets) > 20
    for (playbook, extra), output in zip(runs, outputs):
        assert not PRIVATE_KEY_PEM.search(output), (playbook, extra)
        assert not leaked(output, secrets), (playbook, extra, leaked(output, secrets))
    keys = sorted(os.path.relpath(os.path.join(root, f), pki) for root, dummy, files in os.walk(pki)
                  for f in files if f.endswith(".key"))
    assert keys == ["ca.key", "cluster1.key", "cluster2.key"]


def test_status_prints_the_federation(lab, inventory):
    # the table only: the links are probed from the lab's network in test_link_probes.py
    run = run_playbook("status.yml", inventory, "-e", "meshfed_probe=false", plain=True)
    assert run.rc == 0, run.stdout[-3000:]
    assert "cluster2/reviews-v2 -> bookinfo/myreviews:9080#v2 [http] consumers: cluster1; applied: True" in run.stdout
    assert re.search(r"cluster1 default/reviews:9080 <- cluster2/reviews-v2 \(50%\), local \(50%\); applied: True",
                     run.stdout), run.stdout[-3000:]


def test_unfederate_leaves_nothing_of_ours_and_the_apps_intact(lab, inventory):
    apps_before = {c: lab.kubectl(c, "get", "deployments,services", "-A", "-l", "app.kubernetes.io/part-of=bookinfo",
                                  "-o", "name") for c in CLUSTERS}
    created_by_us = {c: (settle_namespace(lab, c, GATEWAY_NAMESPACE) or {}).get("meshfed.io/federation") == FEDERATION
                     for c in CLUSTERS}
    run = run_playbook("unfederate.yml", inventory)
    assert run.rc == 0, run.stdout[-5000:]
    released = {host: res["namespace"] for dummy, host, res in run.task_results("private_gateway")}
    for context in CLUSTERS:
        if not created_by_us[context]:
            # someone else's namespace (another federation's, the user's): used, never deleted
            assert released[context] == "not ours", released
            lab.kubectl(context, "get", "namespace", GATEWAY_NAMESPACE)
        else:
            # the namespace this federation created goes too; Kubernetes finishes that asynchronously
            assert released[context] == "deleted", released
            lab.kubectl(context, "wait", "--for=delete", "namespace/" + GATEWAY_NAMESPACE, "--timeout=120s")
        assert owned_objects(lab, context, FEDERATION, OUR_KINDS) == []
        assert lab.kubectl(context, "get", "deployments,services", "-A", "-l", "app.kubernetes.io/part-of=bookinfo",
                           "-o", "name") == apps_before[context]
