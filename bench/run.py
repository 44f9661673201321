#!/usr/bin/env python
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: federate K exports across the 3 lab clusters and compare, in the same run, against
(a) `kubectl apply --server-side` of the very same rendered manifests and (b) a naive playbook with one
kubernetes.core.k8s module call per object.

    tools/lab/lab up 3 --no-mesh    # the API servers only: no proxy starts and loads the machine
    python bench/run.py --sizes 1 10 100 --runs 5 --naive-runs 1     # writes bench/results.json
    python bench/report.py                                           # the tables of docs/performance.md

Measures wall-clock seconds of the first converge (from an empty federation) and of a no-op re-run, and the
API requests each approach sends. Not a test: it asserts nothing, it reports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, ".lab", "collections"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from ansible_collections.meshfed.federation.plugins.module_utils.model import build_model  # noqa: E402
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import render_gateways  # noqa: E402
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_export import render_exports  # noqa: E402
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_import import render_imports  # noqa: E402
from playbook_runner import OUR_KINDS, run_playbook  # noqa: E402

CLUSTERS = ("cluster1", "cluster2", "cluster3")
KUBECONFIG = os.path.join(REPO, ".lab", "kubeconfig")
PRUNABLE_KINDS = OUR_KINDS.replace("namespaces,", "")


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
            "subset": {"name": "v1", "labels": {"version": "v1"}}, "consumers": ["cluster1"]})
        clusters["cluster1"]["meshfed_imports"].append({
            "name": name, "namespace": "default", "port": 8080, "from": [{"cluster": exporter, "export": name}]})
    return clusters


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


def rendered_manifests(directory, k, federation):
    """What federate.yml applies, per cluster, rendered by the collection's own renderers."""
    raw = bench_clusters(k)
    spec = {name: {key[len("meshfed_"):]: value for key, value in host.items()} for name, host in raw.items()}
    model = build_model(spec, {"federation_name": federation})
    pki = os.path.join(directory, "pki")
    manifests = {}
    for cluster in CLUSTERS:
        with open(os.path.join(pki, cluster + ".crt")) as c, open(os.path.join(pki, cluster + ".key")) as key, \
                open(os.path.join(pki, "ca.crt")) as ca:
            credential = {"cert": c.read(), "key": key.read(), "ca": ca.read()}
        manifests[cluster] = (render_gateways(model, cluster, credential) + render_exports(model, cluster)
                              + render_imports(model, cluster))
    return manifests


def lab_kubectl():
    """The kubectl built with the lab's Kubernetes version (the one on PATH otherwise)."""
    out = subprocess.run(["bash", os.path.join(REPO, "tools", "lab", "build.sh")], capture_output=True, text=True,
                         check=True).stdout.split()
    candidate = os.path.join(out[-1], "kubectl") if out else ""
    return candidate if os.access(candidate, os.X_OK) else "kubectl"


KUBECTL = lab_kubectl()


def kubectl(*args, **kwargs):
    return subprocess.run([KUBECTL, "--kubeconfig", KUBECONFIG] + list(args), capture_output=True, text=True,
                          check=kwargs.get("check", True), timeout=600)


def clean(federation):
    """Delete everything of the benchmark's federation except the namespace (kept: its deletion is slow)."""
    def clean_one(cluster):
        kubectl("--context", cluster, "delete", PRUNABLE_KINDS, "-A", "--wait=true",
                "-l", "app.kubernetes.io/managed-by=meshfed,meshfed.io/federation=%s" % federation)
    with ThreadPoolExecutor(len(CLUSTERS)) as pool:
        list(pool.map(clean_one, CLUSTERS))


def timed(function):
    start = time.monotonic()
    result = function()
    return time.monotonic() - start, result


def meshfed_run(directory):
    run = run_playbook("federate.yml", inventory_dir(directory))
    if run.rc != 0:
        raise RuntimeError("federate.yml failed:\n" + run.stdout[-3000:] + run.stderr[-3000:])
    requests = {}
    for dummy, dummy_host, res in run.task_results():
        for verb, count in (res.get("api_requests") or {}).items():
            requests[verb] = requests.get(verb, 0) + count
    return requests


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


def measure_once(approach, federation, converge, record, index):
    """From an empty federation: the first converge, then the same command again (the no-op)."""
    clean(federation)
    elapsed, first_requests = timed(converge)
    record["first"].append(elapsed)
    elapsed, noop_requests = timed(converge)
    record["noop"].append(elapsed)
    if index == 0:
        record["requests"] = {"first": first_requests, "noop": noop_requests}
    print("  %-8s run %d: first %.2fs, no-op %.2fs" % (approach, index + 1, record["first"][-1], record["noop"][-1]),
          flush=True)


def measure(approaches, federation, runs):
    """Runs of every approach interleaved (run 1 of each, then run 2 of each, ...), so that a slow phase of the
    machine hits all of them alike. approaches: name -> (runs wanted, converge function)."""
    records = dict((name, {"first": [], "noop": [], "requests": {}}) for name in approaches)
    for index in range(runs):
        for name, (wanted, converge) in approaches.items():
            if index < wanted:
                measure_once(name, federation, converge, records[name], index)
    return records


def machine():
    load = os.getloadavg()
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release(),
            "load_before": "%.2f %.2f %.2f" % load}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--naive-runs", type=int, default=1, help="runs of the naive playbook (slow)")
    parser.add_argument("--naive-sizes", type=int, nargs="*", default=None, help="sizes for the naive playbook")
    parser.add_argument("--json", default=os.path.join(REPO, "bench", "results.json"))
    args = parser.parse_args()
    results = {"machine": machine(), "sizes": {}}
    for k in args.sizes:
        federation = "bench-k%d" % k
        directory = tempfile.mkdtemp(prefix="meshfed-bench-k%d-" % k)
        write_inventory(directory, k, federation)
        print("K=%d (%s)" % (k, directory), flush=True)
        meshfed_run(directory)  # not measured: issues the certificates that kubectl's manifests embed too
        manifests = rendered_manifests(directory, k, federation)
        approaches = {"meshfed": (args.runs, lambda: meshfed_run(directory)),
                      "kubectl": (args.runs, lambda: kubectl_apply(directory, manifests))}
        if args.naive_sizes is None or k in args.naive_sizes:
            approaches["naive"] = (args.naive_runs, lambda: naive_playbook(directory, manifests))
        row = measure(approaches, federation, max(args.runs, args.naive_runs))
        row["objects"] = sum(len(m) for m in manifests.values())
        clean(federation)
        results["sizes"][k] = row
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print(json.dumps({k: {a: {m: round(statistics.median(v[m]), 2) for m in ("first", "noop")}
                          for a, v in row.items() if isinstance(v, dict)} for k, row in results["sizes"].items()}, indent=1))


if __name__ == "__main__":
    main()
