#!/usr/bin/env python
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: federate K exports across the 3 lab clusters and compare, in the same run, against
(a) `kubectl apply --server-side` of the very same rendered manifests, (b) a naive playbook with one
kubernetes.core.k8s module call per object and (c) a playbook of one task on the same inventory (Ansible's floor).

    export MESHFED_LAB_DIR=/tmp/lab-bench   # optional: the lab's state dir (default <repo>/.lab); the bench follows it
    tools/lab/lab up 3 --no-mesh    # the API servers only: no proxy starts and loads the machine
    python bench/run.py --sizes 1 10 100 --runs 5 --naive-runs 1     # writes bench/results.json
    python bench/run.py --sizes 1000 --runs 3 --naive-sizes          # K = 1000 (~8,000 objects), no naive playbook
    python bench/run.py --sizes 100 --runs 5 --naive-sizes --compare main   # this checkout against main, side by side
    python bench/run.py --sizes 100 --runs 3 --naive-sizes --overlap --no-baselines   # exports and imports at once
    python bench/report.py                                           # the tables of docs/performance.md

Each meshfed approach runs its own tree's playbooks/federate.yml and ansible.cfg with ANSIBLE_COLLECTIONS_PATH
pointing at a directory whose ansible_collections/meshfed/federation is that tree: this checkout (linked) and, with
--compare REF, the tree of REF (git archive). One unmeasured -vv run per approach checks that its roles and
modules came from its own tree (results.json: approaches.*.code_ran_from).

Measures wall-clock seconds of the first converge (from an empty federation) and of a no-op re-run, and the
API requests each approach sends. Not a test: it asserts nothing, it reports.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(REPO, "tests"))

# tests/conftest.py makes this checkout importable as ansible_collections.meshfed.federation
import conftest  # noqa: E402,F401  pylint: disable=unused-import
from playbook_runner import OUR_KINDS, PlaybookRun  # noqa: E402

CLUSTERS = ("cluster1", "cluster2", "cluster3")
# the lab's state dir, as tools/lab/labkit/state.py reads it (default <repo>/.lab)
LAB_DIR = os.path.realpath(os.environ.get("MESHFED_LAB_DIR") or os.path.join(REPO, ".lab"))
KUBECONFIG = os.path.join(LAB_DIR, "kubeconfig")
PRUNABLE_KINDS = OUR_KINDS.replace("namespaces,", "")
# seconds any one command (ansible-playbook, kubectl) may take; main() sets it from --timeout
TIMEOUT = [600]
# --quotas: every consumer of every export gets a request quota (one EnvoyFilter more per export)
QUOTAS = [False]
# --failover: every import is a failover import, its local copy (a Service of the user's the bench makes) first
FAILOVER = [False]


def bench_clusters(k):
    """K exports, alternately on cluster2 and cluster3, all consumed by cluster1 under their own local names."""
    clusters = {
        "cluster1": {"meshfed_identity": "c1.bench.example.com", "meshfed_imports": []},
        "cluster2": {"meshfed_identity": "c2.bench.example.com", "meshfed_exports": [],
                     "meshfed_gateway_address": {"address": "172.31.2.100", "port": 15443}},
        "cluster3": {"meshfed_identity": "c3.bench.example.com", "meshfed_exports": [],
                     "meshfed_gateway_address": {"address": "172.31.3.100", "port": 15443}},
    }
    for index in range(k):
        exporter = "cluster2" if index % 2 == 0 else "cluster3"
        name = "svc-%03d" % index
        clusters[exporter]["meshfed_exports"].append({
            "name": name, "service": {"namespace": "apps", "name": name, "port": 8080},
            "subset": {"name": "v1", "labels": {"version": "v1"}},
            "consumers": [{"cluster": "cluster1", "quota": {"requests_per_second": 100}} if QUOTAS[0] else "cluster1"]})
        clusters["cluster1"]["meshfed_imports"].append(dict({
            "name": name, "namespace": "default", "port": 8080, "from": [{"cluster": exporter, "export": name}]},
            **({"local": {}, "mode": "failover"} if FAILOVER[0] else {})))
    return clusters


def local_copies(directory, k):
    """With --failover: the K local Services of cluster1 the failover imports take their local pods by (the user's,
    not the federation's: clean() leaves them), applied once before the runs."""
    path = os.path.join(directory, "local-copies.yaml")
    with open(path, "w") as f:
        yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc-%03d" % i, "namespace": "default"},
             "spec": {"selector": {"app": "svc-%03d" % i}, "ports": [{"port": 8080, "name": "http"}]}}
            for i in range(k)]}, f)
    return path


def inventory_dir(directory):
    """The inventory alone in its directory: Ansible would try every other file beside it as an inventory source."""
    return os.path.join(directory, "inventory")


def write_inventory(directory, k, federation):
    hosts = {"all": {"children": {"meshfed_clusters": {"hosts": bench_clusters(k)}}}}
    group_vars = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                  "meshfed_federation_name": federation, "meshfed_kubeconfig": KUBECONFIG,
                  "meshfed_context": "{{ inventory_hostname }}", "meshfed_pki_dir": os.path.join(directory, "pki")}
    os.makedirs(os.path.join(inventory_dir(directory), "group_vars"), exist_ok=True)
    with open(os.path.join(inventory_dir(directory), "hosts.yml"), "w") as f:
        yaml.safe_dump(hosts, f)
    with open(os.path.join(inventory_dir(directory), "group_vars", "meshfed_clusters.yml"), "w") as f:
        yaml.safe_dump(group_vars, f)


def collection_render(spec, settings, credentials):
    """{cluster: objects} as federate.yml applies them, by the current checkout's own model and renderers: the one
    place that knows their names and signatures (adapt it when module_utils changes). Imported from the collection
    path that main() puts first on sys.path (the current checkout's)."""
    from ansible_collections.meshfed.federation.plugins.module_utils.observe.discovery import peer_addresses
    from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
    from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import render_gateways
    from ansible_collections.meshfed.federation.plugins.module_utils.render.service_export import render_exports
    from ansible_collections.meshfed.federation.plugins.module_utils.render.service_import import render_imports
    from ansible_collections.meshfed.federation.plugins.module_utils.observe.local_copies import read_balance_inputs
    model = build_model(spec, settings)
    # failover imports: the placeholders of state=rendered stand for the egress address and the local selectors
    # (the same objects, of the same size, as the run applies)
    return dict((cluster, render_gateways(model, cluster, credentials[cluster]) + render_exports(model, cluster)
                 + render_imports(model, cluster, peer_addresses(model, cluster, {}),
                                  read_balance_inputs(None, model, cluster))) for cluster in CLUSTERS)


def rendered_manifests(directory, k, federation):
    """What federate.yml applies, per cluster, rendered by the collection's own renderers."""
    raw = bench_clusters(k)
    spec = {name: {key[len("meshfed_"):]: value for key, value in host.items()} for name, host in raw.items()}
    pki = os.path.join(directory, "pki")
    credentials = {}
    for cluster in CLUSTERS:
        with open(os.path.join(pki, cluster + ".crt")) as c, open(os.path.join(pki, cluster + ".key")) as key, \
                open(os.path.join(pki, "ca.crt")) as ca:
            credentials[cluster] = {"cert": c.read(), "key": key.read(), "ca": ca.read()}
    return collection_render(spec, {"federation_name": federation}, credentials)


def lab_kubectl():
    """The kubectl built with the lab's Kubernetes version (the one on PATH otherwise)."""
    out = subprocess.run(["bash", os.path.join(REPO, "tools", "lab", "build.sh")], capture_output=True, text=True,
                         check=True).stdout.split()
    candidate = os.path.join(out[-1], "kubectl") if out else ""
    return candidate if os.access(candidate, os.X_OK) else "kubectl"


KUBECTL = lab_kubectl()


def kubectl(*args, **kwargs):
    done = subprocess.run([KUBECTL, "--kubeconfig", KUBECONFIG] + list(args), capture_output=True, text=True,
                          check=False, timeout=TIMEOUT[0])
    if kwargs.get("check", True) and done.returncode != 0:
        raise RuntimeError("kubectl %s: exit %d: %s" % (" ".join(args)[:300], done.returncode, done.stderr.strip()[-2000:]))
    return done


def api_paths(cluster):
    """{(apiVersion, kind): plural} of what the cluster serves (kubectl api-resources)."""
    out = kubectl("--context", cluster, "api-resources", "--no-headers").stdout
    # NAME [SHORTNAMES] APIVERSION NAMESPACED KIND
    return dict(((cols[-3], cols[-1]), cols[0]) for cols in (line.split() for line in out.splitlines()) if len(cols) >= 4)


def clean(federation):
    """Delete everything of the benchmark's federation except the namespace (kept: its deletion is slow), and wait
    until none of it is left. One DELETE of a collection (with the federation's labels) per kind and namespace that
    holds some: `kubectl delete -l` sends a DELETE per object and `--wait` then waits for each in turn (minutes for
    the 5,000 objects of cluster1 at K = 1000)."""
    selector = "app.kubernetes.io/managed-by=meshfed,meshfed.io/federation=%s" % federation

    def left(cluster):
        out = kubectl("--context", cluster, "get", PRUNABLE_KINDS, "-A", "-l", selector, "-o",
                      "jsonpath={range .items[*]}{.apiVersion} {.kind} {.metadata.namespace}{\"\\n\"}{end}").stdout
        return sorted(set(tuple(line.split()) for line in out.splitlines() if line.strip()))

    def delete_collection(cluster, plurals, place):
        """A failure (the API server's 60 s request timeout under load, for 2,000 objects) is not fatal: what is left
        is deleted by the next round."""
        api_version, kind, namespace = place
        prefix = "/api/v1" if api_version == "v1" else "/apis/" + api_version
        done = kubectl("--context", cluster, "delete", "--raw", "%s/namespaces/%s/%s?labelSelector=%s" % (
            prefix, namespace, plurals[(api_version, kind)], urllib.parse.quote(selector)), check=False)
        if done.returncode != 0:
            print("  (clean: %s %s %s/%s: %s; again)"
                  % (cluster, kind, namespace, federation, done.stderr.strip()[-300:]), flush=True)

    def clean_one(cluster):
        plurals = None
        deadline = time.monotonic() + TIMEOUT[0]
        while True:
            places = left(cluster)
            if not places:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("%s: objects of %s still there after %ss: %s" % (cluster, federation, TIMEOUT[0],
                                                                                    places))
            plurals = plurals or api_paths(cluster)
            # the API server deletes a collection's items one by one (--delete-collection-workers=1): kinds in
            # parallel
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(functools.partial(delete_collection, cluster, plurals), places))
    with ThreadPoolExecutor(len(CLUSTERS)) as pool:
        list(pool.map(clean_one, CLUSTERS))


def clean_benchmarks():
    """Clean every benchmark federation (bench-k*) left on the lab, by an interrupted run say: their gateways have
    the names of every other federation's, and would be objects in the way of the next one's."""
    found = set()
    for cluster in CLUSTERS:
        out = kubectl("--context", cluster, "get", PRUNABLE_KINDS, "-A", "-l", "app.kubernetes.io/managed-by=meshfed",
                      "-o", "jsonpath={range .items[*]}{.metadata.labels.meshfed\\.io/federation}{\"\\n\"}{end}").stdout
        found.update(name for name in out.split() if name.startswith("bench-k"))
    for federation in sorted(found):
        print("cleaning %s, left on the lab" % federation, flush=True)
        clean(federation)


def timed(function):
    start = time.monotonic()
    result = function()
    return time.monotonic() - start, result


class Checkout(object):
    """One meshfed approach: a tree of the collection (its playbooks, roles, plugins and ansible.cfg) that Ansible
    finds as meshfed.federation through a collection path of its own (ANSIBLE_COLLECTIONS_PATH)."""

    def __init__(self, name, root, collections, commit, label):
        self.name, self.root, self.collections, self.commit, self.label = name, root, collections, commit, label

    @property
    def collection(self):
        return os.path.join(self.collections, "ansible_collections", "meshfed", "federation")

    def env(self):
        """ansible-playbook's environment: this tree's ansible.cfg, and its collection path first (the config's
        relative .lab/collections is not used; the default user and system paths stay for other collections)."""
        paths = [self.collections, os.path.expanduser("~/.ansible/collections"), "/usr/share/ansible/collections"]
        return dict(os.environ, ANSIBLE_CONFIG=os.path.join(self.root, "ansible.cfg"),
                    ANSIBLE_COLLECTIONS_PATH=":".join(paths), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")

    def describe(self):
        return {"label": self.label, "commit": self.commit, "root": self.root, "collection": self.collection}


def git(*args):
    return subprocess.run(["git", "-C", REPO] + list(args), capture_output=True, text=True, check=True).stdout.strip()


def current_checkout(workdir):
    """This checkout, linked as the collection (what is being measured, uncommitted changes included)."""
    collections = os.path.join(workdir, "collections-current")
    os.makedirs(os.path.join(collections, "ansible_collections", "meshfed"))
    os.symlink(REPO, os.path.join(collections, "ansible_collections", "meshfed", "federation"))
    commit = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return Checkout("meshfed", REPO, collections, commit, "meshfed %s%s" % (commit[:7], " + changes" if dirty else ""))


def ref_checkout(workdir, ref):
    """The tree of a git ref exported (git archive) straight into a collection path of its own: its playbooks,
    roles, plugins and ansible.cfg, none of this checkout's."""
    commit = git("rev-parse", "--verify", ref + "^{commit}")
    collections = os.path.join(workdir, "collections-ref")
    root = os.path.join(collections, "ansible_collections", "meshfed", "federation")
    os.makedirs(root)
    archive = subprocess.run(["git", "-C", REPO, "archive", "--format=tar", commit], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", root], input=archive.stdout, check=True)
    return Checkout("compare", root, collections, commit, "meshfed %s (%s)" % (commit[:7], ref))


def run_with_rss(command, timeout, **kwargs):
    """subprocess.run(capture_output, text) that also reads the command's rusage: its CompletedProcess has
    ``peak_rss_kib``, the largest resident set of the process and the descendants it waited for (wait4:
    ansible-playbook's main process or a worker)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True, **kwargs)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                os.wait4(process.pid, 0)
                raise subprocess.TimeoutExpired(command, timeout)
            time.sleep(0.02)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        completed = subprocess.CompletedProcess(command, process.returncode, out.read(), err.read())
        completed.peak_rss_kib = usage.ru_maxrss
        return completed


def ansible_playbook(checkout, directory, *extra, **kwargs):
    """federate.yml of ``checkout`` with its own collection path, the JSON callback unless ``callback=None``."""
    env = checkout.env()
    callback = kwargs.get("callback", "ansible.posix.json")
    if callback:
        env["ANSIBLE_STDOUT_CALLBACK"] = callback
    env.update(kwargs.get("env") or {})
    command = ["ansible-playbook", os.path.join(checkout.root, "playbooks", "federate.yml"),
               "-i", inventory_dir(directory)] + list(extra)
    completed = run_with_rss(command, TIMEOUT[0], cwd=checkout.root, env=env)
    run = PlaybookRun(completed)
    run.peak_rss_kib = completed.peak_rss_kib
    return run


def meshfed_run(checkout, directory):
    """One measured run: the tree's own stdout callback (what its users see) and the bench's request counter."""
    counts = os.path.join(directory, "requests-%s.json" % checkout.name)
    env = {"ANSIBLE_CALLBACK_PLUGINS": os.path.join(REPO, "bench", "callback_plugins"),
           "ANSIBLE_CALLBACKS_ENABLED": "bench_requests", "MESHFED_BENCH_REQUESTS": counts}
    if os.path.exists(counts):
        os.unlink(counts)
    run = ansible_playbook(checkout, directory, callback=None, env=env)
    if run.rc != 0:
        raise RuntimeError("%s: federate.yml failed:\n%s%s" % (checkout.label, run.stdout[-3000:], run.stderr[-3000:]))
    with open(counts) as f:
        return dict(json.load(f)["total"], peak_rss_mib=round(run.peak_rss_kib / 1024.0, 1))


def overlapped_run(checkout, directory):
    """--overlap: the same federation as two ansible-playbook processes at once, the exporters' clusters
    (``--limit cluster2:cluster3``) beside the importer's (``--limit cluster1``), so that cluster1 imports while
    cluster2 and cluster3 export (what one converge task per cluster would give: docs/proposals/converge-per-cluster.md).
    The bench's gateway addresses are static, so neither needs the other's results. Wall-clock seconds are those of
    the slower; requests are summed."""
    def one(limit):
        counts = os.path.join(directory, "requests-%s-%s.json" % (checkout.name, limit.replace(":", "-")))
        env = {"ANSIBLE_CALLBACK_PLUGINS": os.path.join(REPO, "bench", "callback_plugins"),
               "ANSIBLE_CALLBACKS_ENABLED": "bench_requests", "MESHFED_BENCH_REQUESTS": counts}
        if os.path.exists(counts):
            os.unlink(counts)
        run = ansible_playbook(checkout, directory, "--limit", limit, callback=None, env=env)
        if run.rc != 0:
            raise RuntimeError("%s --limit %s: federate.yml failed:\n%s%s"
                               % (checkout.label, limit, run.stdout[-3000:], run.stderr[-3000:]))
        with open(counts) as f:
            return json.load(f)["total"], run.peak_rss_kib
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(one, ("cluster2:cluster3", "cluster1")))
    total = {}
    for counts, dummy in done:
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
    return dict(total, peak_rss_mib=round(max(rss for dummy, rss in done) / 1024.0, 1))


def prove_code(checkout, directory):
    """Run federate.yml of ``checkout`` once at -vv (not measured; its output in the bench directory) and check
    that every task Ansible ran came from this checkout's tree (the 'task path:' lines name the files: its playbooks'
    task files and its roles'), and its modules too (ansible-doc's file name). Returns those directories and the
    module's file."""
    run = ansible_playbook(checkout, directory, "-vv", callback=None)
    with open(os.path.join(directory, "setup-%s.log" % checkout.name), "w") as f:
        f.write(run.stdout + run.stderr)
    if run.rc != 0:
        raise RuntimeError("%s: federate.yml failed:\n%s%s" % (checkout.label, run.stdout[-3000:], run.stderr[-3000:]))
    paths = sorted(set(os.path.dirname(line.split("task path:", 1)[1].strip().rsplit(":", 1)[0])
                       for line in run.stdout.splitlines() if "task path:" in line))
    tree = os.path.realpath(checkout.root)
    # and the plugins: Ansible resolves meshfed.federation to one directory for roles and plugins alike
    doc = subprocess.run(["ansible-doc", "--json", "-t", "module", "meshfed.federation.service_import"],
                         cwd=checkout.root, env=checkout.env(), capture_output=True, text=True, check=True)
    paths.append(json.loads(doc.stdout)["meshfed.federation.service_import"]["doc"]["filename"])
    paths = sorted(set(os.path.realpath(path) for path in paths))
    foreign = [path for path in paths if not path.startswith(tree + os.sep)]
    # a role's tasks (pki) and the playbook's task files
    if not [p for p in paths if "/roles/" in p] or not [p for p in paths if "/playbooks" in p] or foreign:
        raise RuntimeError("%s: tasks or plugins from outside %s: %s"
                           % (checkout.label, tree, foreign or "no role or playbook task path in %s" % paths))
    return paths


def kubectl_apply(directory, manifests):
    """(a): kubectl apply --server-side of the same manifests, the three clusters in parallel like forks."""
    def apply_one(cluster):
        if not manifests[cluster]:
            return 0
        path = os.path.join(directory, "manifest-%s.yaml" % cluster)
        with open(path, "w") as f:
            yaml.safe_dump_all(manifests[cluster], f)
        out = kubectl("--context", cluster, "apply", "--server-side", "--field-manager=bench-kubectl",
                      "--force-conflicts", "-v=6", "-f", path)
        # -v=6 logs one line per response: 'GET https://... 200 OK in 5 milliseconds' or, newer,
        # '"Response" verb="GET" url="https://..." status="200 OK" milliseconds=5'
        return sum(1 for line in out.stderr.splitlines() if "https://" in line and "milliseconds" in line)
    with ThreadPoolExecutor(len(CLUSTERS)) as pool:
        return {"requests": sum(pool.map(apply_one, CLUSTERS))}


def naive_playbook(directory, manifests):
    """(b): one kubernetes.core.k8s call per object, clusters in parallel (forks)."""
    for cluster in CLUSTERS:
        with open(os.path.join(directory, "objects-%s.yaml" % cluster), "w") as f:
            yaml.safe_dump(manifests[cluster], f)
    playbook = [{
        "name": "Naive federation: one kubernetes.core.k8s task per object",
        "hosts": "meshfed_clusters", "gather_facts": False,
        "tasks": [{"name": "Apply one object", "kubernetes.core.k8s": {
            "definition": "{{ item }}", "state": "present", "apply": True,
            "kubeconfig": "{{ meshfed_kubeconfig }}", "context": "{{ meshfed_context }}"},
            "loop": "{{ lookup('ansible.builtin.file', '%s/objects-' ~ inventory_hostname ~ '.yaml') | from_yaml }}" % directory,
            "no_log": True}],
    }]
    path = os.path.join(directory, "naive.yml")
    with open(path, "w") as f:
        yaml.safe_dump(playbook, f)
    out = subprocess.run(["ansible-playbook", path, "-i", inventory_dir(directory)], cwd=REPO, capture_output=True, text=True, check=False,
                         timeout=3600, env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    if out.returncode != 0:
        raise RuntimeError(out.stdout[-3000:])
    return {}


def one_task_playbook(directory):
    """(c): the floor Ansible itself sets: a playbook of one task (ansible.builtin.ping, a module run on each host) on
    the same inventory, with this checkout's ansible.cfg (forks, the local connection)."""
    path = os.path.join(directory, "one-task.yml")
    if not os.path.exists(path):
        with open(path, "w") as f:
            yaml.safe_dump([{"name": "One task", "hosts": "meshfed_clusters", "gather_facts": False,
                             "tasks": [{"name": "Ping", "ansible.builtin.ping": {}}]}], f)
    out = subprocess.run(["ansible-playbook", path, "-i", inventory_dir(directory)], cwd=REPO, capture_output=True,
                         text=True, check=False, timeout=600,
                         env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    if out.returncode != 0:
        raise RuntimeError(out.stdout[-3000:])
    return {}


def measure_once(approach, federation, converge, record, index):
    """From an empty federation: the first converge, then the same command again (the no-op)."""
    clean_seconds, dummy = timed(lambda: clean(federation))
    record["load"].append(round(os.getloadavg()[0], 2))
    elapsed, first_requests = timed(converge)
    record["first"].append(elapsed)
    elapsed, noop_requests = timed(converge)
    record["noop"].append(elapsed)
    for phase, requests in (("first", first_requests), ("noop", noop_requests)):
        if isinstance(requests, dict) and "peak_rss_mib" in requests:  # meshfed's runs: not a request count
            record.setdefault("peak_rss_mib", {"first": [], "noop": []})[phase].append(requests.pop("peak_rss_mib"))
    if index == 0:
        record["requests"] = {"first": first_requests, "noop": noop_requests}
    print("  %-8s run %d: first %.2fs, no-op %.2fs (clean %.1fs, load %.2f)" % (
        approach, index + 1, record["first"][-1], record["noop"][-1], clean_seconds, record["load"][-1]), flush=True)


def measure(approaches, federation, runs, save=lambda records: None):
    """Runs of every approach interleaved (run 1 of each, then run 2 of each, ...), so that a slow phase of the
    machine hits all of them alike; the order turns by one place each round, so that no approach always runs right
    after the same other. approaches: name -> (runs wanted, converge function)."""
    records = dict((name, {"first": [], "noop": [], "load": [], "requests": {}}) for name in approaches)
    names = list(approaches)
    for index in range(runs):
        for name in names[index % len(names):] + names[:index % len(names)]:
            wanted, converge = approaches[name]
            if index < wanted:
                measure_once(name, federation, converge, records[name], index)
                save(records)  # what is measured so far survives a failure of a later run
    return records


def machine():
    load = os.getloadavg()
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release(),
            "load_before": "%.2f %.2f %.2f" % load, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "lab_dir": LAB_DIR}


def summary(results):
    return dict((k, dict((a, dict((m, round(statistics.median(v[m]), 2)) for m in ("first", "noop")))
                         for a, v in row.items() if isinstance(v, dict) and v.get("first")))
                for k, row in results["sizes"].items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--naive-runs", type=int, default=1, help="runs of the naive playbook (slow)")
    parser.add_argument("--naive-sizes", type=int, nargs="*", default=None,
                        help="sizes for the naive playbook (the option alone: none)")
    parser.add_argument("--compare", metavar="REF",
                        help="also run the meshfed of this git ref (its playbooks, roles and plugins, exported with "
                             "git archive), interleaved run by run with this checkout's")
    parser.add_argument("--timeout", type=int, default=None,
                        help="seconds one ansible-playbook or kubectl command may take (default 600 + 3 s per K)")
    parser.add_argument("--json", default=os.path.join(REPO, "bench", "results.json"))
    parser.add_argument("--overlap", action="store_true",
                        help="also run this checkout as two concurrent playbooks (exporters, importer: --limit)")
    parser.add_argument("--no-baselines", action="store_true",
                        help="no one-task playbook (kubectl still runs: the ratios' baseline)")
    parser.add_argument("--quotas", action="store_true",
                        help="a quota for every consumer of every export (the --compare tree must know quotas too)")
    parser.add_argument("--failover", action="store_true",
                        help="every import a failover import, local copy first (K <= 100: a port each on the egress; the --compare tree must know them)")
    args = parser.parse_args()
    QUOTAS[0] = args.quotas
    FAILOVER[0] = args.failover
    if not os.path.exists(KUBECONFIG):
        parser.error("no lab kubeconfig at %s: run tools/lab/lab up 3 --no-mesh (with the same MESHFED_LAB_DIR)"
                     % KUBECONFIG)
    workdir = tempfile.mkdtemp(prefix="meshfed-bench-")
    checkouts = [current_checkout(workdir)]
    if args.compare:
        checkouts.append(ref_checkout(workdir, args.compare))
    sys.path.insert(0, checkouts[0].collections)  # collection_render: the current checkout's renderers
    results = {"machine": machine(), "sizes": {}, "quotas": args.quotas, "failover": args.failover,
               "approaches": dict((c.name, c.describe()) for c in checkouts)}
    if args.compare:
        results["compare"] = dict(checkouts[1].describe(), ref=args.compare)
    print("bench directory %s; lab %s; %s" % (workdir, LAB_DIR, "; ".join(c.label for c in checkouts)), flush=True)
    clean_benchmarks()
    for k in args.sizes:
        TIMEOUT[0] = args.timeout or 600 + 3 * k
        federation = "bench-k%d" % k
        directory = tempfile.mkdtemp(prefix="k%d-" % k, dir=workdir)
        write_inventory(directory, k, federation)
        if args.failover:
            kubectl("--context", "cluster1", "apply", "-f", local_copies(directory, k))
        print("K=%d (%s)" % (k, directory), flush=True)
        # not measured: issues the certificates that kubectl's manifests embed too, and shows (-vv) where each
        # approach's roles come from
        for checkout in checkouts:
            results["approaches"][checkout.name]["code_ran_from"] = ran_from = prove_code(checkout, directory)
            print("  %s: roles and modules from %s" % (checkout.label, os.path.commonpath(ran_from)), flush=True)
        manifests = rendered_manifests(directory, k, federation)
        approaches = dict((c.name, (args.runs, functools.partial(meshfed_run, c, directory))) for c in checkouts)
        approaches["kubectl"] = (args.runs, lambda: kubectl_apply(directory, manifests))
        if args.overlap:
            approaches["overlap"] = (args.runs, functools.partial(overlapped_run, checkouts[0], directory))
        if not args.no_baselines:
            approaches["one_task"] = (args.runs, functools.partial(one_task_playbook, directory))
        if args.naive_sizes is None or k in args.naive_sizes:
            approaches["naive"] = (args.naive_runs, lambda: naive_playbook(directory, manifests))
        objects = sum(len(m) for m in manifests.values())

        def save(records, k=k, objects=objects):
            results["sizes"][k] = dict(records, objects=objects)
            results["machine"]["load_after"] = "%.2f %.2f %.2f" % os.getloadavg()
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        save(measure(approaches, federation, max([args.runs] + [w for w, dummy in approaches.values()]), save))
        clean(federation)
    print(json.dumps(summary(results), indent=1))
    print("machine load before %s, after %s" % (results["machine"]["load_before"], results["machine"]["load_after"]))


if __name__ == "__main__":
    main()
