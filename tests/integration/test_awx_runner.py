# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX's engine: federate, status and unfederate run as AWX runs a job, through ansible-runner's Python API
(awx_job.py), with nothing but what the collection's credential types inject, on the lab's real mesh.

Each job gets its own private data directory as AWX builds it: the clusters credential (and, for federate, the
CA credential) rendered into ``env/``, their environment variables in ``envvars`` and their extra vars files as
``-e @file`` in ``cmdline``, the inventory as the script AWX writes from its database, the collection where a
project sync installs it. The runner process runs in the lab's operator network namespace (the execution node:
it reaches the API servers and the gateways' load balancer addresses), with an environment that reaches no
cluster by itself. What AWX shows of a job is its events: they carry every cluster role's progress line and
status's summary, never a private key or a Secret's data, and a broken link fails the status job, naming it.

The steps build on each other, in file order, on one federation named for this run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import time
import uuid

import pytest
import yaml

from ansible_collections.meshfed.federation.tests.integration.awx_job import make_ca, prepare_job, run_job
from ansible_collections.meshfed.federation.tests.integration.secrets_scan import leaked, secret_strings
from ansible_collections.meshfed.federation.tests.integration.playbook_runner import (
    OUR_KINDS, REPO, owned_objects, pki_dir_for, run_playbook, settle_namespace, write_inventory)

pytest.importorskip("ansible_runner")
pytestmark = pytest.mark.lab

FEDERATION = "awx-" + uuid.uuid4().hex[:6]
CLUSTERS = ("cluster1", "cluster2")
ROLES = ("export", "gateway", "import")
GATEWAY_NAMESPACE = "istio-private-gateways"
BROKEN_EXPORT = "reviews-v2"     # cluster2's export whose Gateway stops granting cluster1
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# cluster, role, objects wanted, created, then per kind counts only (no object name can match) and the time
COUNTS = r"(?: \((?:[A-Za-z]+ \d+)(?:, [A-Za-z]+ \d+)*\))?"
PROGRESS = re.compile(r"^(cluster\d) (gateway|export|import): (\d+) objects, created (\d+)%s, updated (\d+)%s, "
                      r"deleted (\d+)%s, unchanged (\d+)(?:, namespace [a-z ]+)? \[\d+\.\d s\]$"
                      % (COUNTS, COUNTS, COUNTS))


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


class Job(object):
    """What AWX keeps of a finished job: rc, status and the events."""

    def __init__(self, result):
        self.rc = result["rc"]
        self.status = result["status"]
        self.events = result["events"]

    def stdout_lines(self):
        """The job's output as AWX shows it, without colours."""
        return [line for e in self.events for line in ANSI.sub("", e.get("stdout") or "").splitlines()]

    def progress(self):
        """{(cluster, role): (wanted, created, updated, deleted, unchanged)} from the progress lines."""
        found = {}
        for line in self.stdout_lines():
            match = PROGRESS.match(line)
            if match:
                assert match.group(1, 2) not in found, ("two progress lines", line)
                found[match.group(1, 2)] = tuple(int(n) for n in match.group(3, 4, 5, 6, 7))
        return found

    def results(self, event, task_prefix):
        """(host, res) of the events of one kind (runner_on_ok, runner_on_failed) of tasks named so."""
        return [(e["event_data"].get("host"), e["event_data"].get("res") or {}) for e in self.events
                if e["event"] == event and (e["event_data"].get("task") or "").startswith(task_prefix)]

    def explain(self):
        return "\n".join(self.stdout_lines())[-6000:]


class Awx(object):
    """Launches the job templates of docs/awx.md on the lab: one private data directory per job."""

    def __init__(self, lab, base, inventory):
        self.lab, self.base, self.inventory = lab, base, inventory
        self.netns = lab.state["mesh"]["operator_netns"]
        with open(lab.kubeconfig) as f:
            self.kubeconfig = f.read()
        self.ca_cert, self.ca_key, dummy = make_ca()
        self.jobs = 0

    def credentials(self, playbook):
        """The clusters credential on every template, the CA credential on federate (docs/awx.md)."""
        types = os.path.join(REPO, "extensions", "awx")
        found = [(load_yaml(os.path.join(types, "credential_type_meshfed_clusters.yml")),
                  {"kubeconfig": self.kubeconfig})]
        if playbook == "federate.yml":
            found.append((load_yaml(os.path.join(types, "credential_type_meshfed_ca.yml")),
                          {"ca_cert": self.ca_cert, "ca_key": self.ca_key}))
        return found

    def launch(self, playbook, **kwargs):
        self.jobs += 1
        directory = os.path.join(self.base, "job%d-%s" % (self.jobs, playbook.split(".")[0]))
        job = prepare_job(directory, os.path.join(REPO, "playbooks", playbook), self.inventory,
                          self.credentials(playbook), job_id=self.jobs, **kwargs)
        return Job(run_job(job, netns=self.netns))

    def launch_until(self, playbook, status, timeout=300, interval=5):
        """Launch the template again until a job ends with ``status`` or ``timeout`` seconds pass (the gateways'
        Envoys take a new configuration from istiod a moment after it is applied); the last job."""
        deadline = time.time() + timeout
        while True:
            job = self.launch(playbook)
            if job.status == status or time.time() > deadline:
                return job
            time.sleep(interval)

    def secrets(self):
        """Strings no event may hold: the private keys of the PKI directory and of the CA credential, the
        credentials in the kubeconfig, the data of every Secret of ours in the clusters."""
        return secret_strings(self.lab, pki_dir_for(self.inventory), FEDERATION, CLUSTERS, [self.ca_key])

    def assert_nothing_secret(self, job):
        serialized = json.dumps(job.events)
        secrets = self.secrets()
        assert len(secrets) > 5
        assert not leaked(serialized, secrets), leaked(serialized, secrets)


@pytest.fixture(scope="module")
def awx(lab, tmp_path_factory):
    for context in CLUSTERS:
        settle_namespace(lab, context, GATEWAY_NAMESPACE)
    base = str(tmp_path_factory.mktemp("awx"))
    # the job's inventory points at no kubeconfig: only the credential's reaches the clusters
    inventory = write_inventory(os.path.join(base, "inventory"), os.path.join(base, "no-such-kubeconfig"),
                                FEDERATION)
    # the applications and, at the end, a clean-up whatever happened, with the lab's own kubeconfig
    direct = write_inventory(os.path.join(base, "direct"), lab.kubeconfig, FEDERATION,
                             pki_dir=pki_dir_for(inventory))
    apps = run_playbook("lab_sample_apps.yml", direct)
    assert apps.rc == 0, apps.stdout[-3000:] + apps.stderr[-3000:]
    yield Awx(lab, base, inventory)
    run_playbook("unfederate.yml", direct)


def assert_every_cluster_role(job, **expect):
    """One progress line per cluster and role; ``expect``: {"cluster_role": predicate of its counts}."""
    progress = job.progress()
    assert sorted(progress) == [(c, r) for c in CLUSTERS for r in ROLES], job.explain()
    for key, check in expect.items():
        cluster, role = key.split("_")
        assert check(*progress[(cluster, role)]), (key, progress[(cluster, role)])
    # each is the module's own summary, displayed as the task ends (a line of the output, not only in the result)
    lines = job.stdout_lines()
    # (federate.yml's federated_cluster tasks carry their roles' results; unfederate.yml's role tasks their own)
    for host, res in job.results("runner_on_ok", "Converge the "):
        for one in res["roles"].values() if "roles" in res else [res]:
            assert one["summary"] in lines, (host, one["summary"])
    return progress


def test_federate_job(awx, lab):
    job = awx.launch("federate.yml")
    assert (job.status, job.rc) == ("successful", 0), job.explain()
    assert_every_cluster_role(
        job, cluster2_gateway=lambda wanted, created, *rest: created > 0,
        cluster2_export=lambda wanted, created, *rest: wanted > 0 and created == wanted,
        cluster1_import=lambda wanted, created, *rest: wanted > 0 and created == wanted,
        cluster1_export=lambda wanted, *rest: wanted == 0)
    assert "Gateway/istio-private-gateways/meshfed-export-%s" % BROKEN_EXPORT in owned_objects(
        lab, "cluster2", FEDERATION, OUR_KINDS)
    awx.assert_nothing_secret(job)


def summary_lines(job):
    (dummy, res), = job.results("runner_on_ok", "Print the federation summary")
    return res["msg"]


def link_states(job):
    """{(consumer, import, peer/export): state} from the probes of the status job."""
    states = {}
    for host, res in job.results("runner_on_ok", "Read the state"):
        for link in res["cluster"].get("links") or []:
            states[(host, link["namespace"] + "/" + link["import"], link["peer"] + "/" + link["export"])] = \
                link["state"]
    return states


def test_status_job_shows_the_summary_and_every_link_up(awx):
    job = awx.launch_until("status.yml", "successful")
    assert (job.status, job.rc) == ("successful", 0), job.explain()
    lines = summary_lines(job)
    assert lines[0] == "FEDERATION " + FEDERATION, lines
    for cluster in CLUSTERS:
        assert any(re.match(r"^%s +yes " % cluster, line) for line in lines), lines
    states = link_states(job)
    assert states and set(states.values()) == {"ok"}, states
    assert ("cluster1", "default/reviews", "cluster2/" + BROKEN_EXPORT) in states
    assert '"%s",' % lines[0] in "\n".join(job.stdout_lines()), job.explain()   # in the output AWX shows
    awx.assert_nothing_secret(job)


def test_a_broken_link_fails_the_status_job_naming_it(awx, lab):
    """cluster2's export Gateway no longer grants cluster1 (its tls.subjectAltNames), so the handshake refuses
    cluster1's certificate: the status job fails, and its failing event names that link and only that one.
    federate takes the field back (server-side apply, forced for objects of ours) and the link comes back."""
    gateway = "meshfed-export-" + BROKEN_EXPORT
    lab.kubectl("cluster2", "patch", "gateway", "-n", GATEWAY_NAMESPACE, gateway, "--type=json", "-p", json.dumps(
        [{"op": "replace", "path": "/spec/servers/0/tls/subjectAltNames", "value": ["nobody.example.com"]}]))
    try:
        job = awx.launch_until("status.yml", "failed", timeout=240)
        assert job.status == "failed" and job.rc != 0, job.explain()
        states = link_states(job)
        broken = ("cluster1", "default/reviews", "cluster2/" + BROKEN_EXPORT)
        assert states[broken] == "refused", states
        assert [s for k, s in states.items() if k != broken] == ["ok"] * (len(states) - 1), states
        failed = job.results("runner_on_failed", "")
        assert len(failed) == 1, job.explain()
        message = failed[0][1]["msg"]
        assert "default/reviews -> cluster2/%s" % BROKEN_EXPORT in message, message
        assert "default/details" not in message, message
        awx.assert_nothing_secret(job)
    finally:
        restored = awx.launch("federate.yml")
    assert (restored.status, restored.rc) == ("successful", 0), restored.explain()
    assert restored.progress()[("cluster2", "export")][2] == 1          # updated: the Gateway taken back
    job = awx.launch_until("status.yml", "successful")
    assert (job.status, job.rc) == ("successful", 0), job.explain()
    assert set(link_states(job).values()) == {"ok"}


def test_unfederate_job(awx, lab):
    job = awx.launch("unfederate.yml")
    assert (job.status, job.rc) == ("successful", 0), job.explain()
    assert_every_cluster_role(job, cluster1_import=lambda wanted, created, updated, deleted, *rest: deleted > 0,
                              cluster2_export=lambda wanted, created, updated, deleted, *rest: deleted > 0)
    for context in CLUSTERS:
        settle_namespace(lab, context, "istio-private-gateways")  # Kubernetes deletes a namespace asynchronously
        assert owned_objects(lab, context, FEDERATION, OUR_KINDS) == [], context
    awx.assert_nothing_secret(job)
