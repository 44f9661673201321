#!/usr/bin/env python
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where one meshfed run of the benchmark's federation spends its time: the first converge (from an empty
federation) or the no-op re-run, at size K, on the lab (the same inventory as bench/run.py).

    export MESHFED_LAB_DIR=/tmp/lab-bench
    python bench/hotspots.py --size 1000 --phase noop     # or --phase first
    python bench/hotspots.py --size 1000 --phase first --no-py-spy

Writes into a directory of its own (printed):

- ``tasks.txt``   the run with the default callback and ansible.posix.profile_tasks (seconds per task)
- ``requests.txt`` the API requests per task, host and verb (from a run with the JSON callback)
- ``py-spy.txt``  (py-spy, if installed) the same run sampled over ansible-playbook and its forks: the
                  functions with the most samples, self and inclusive, and meshfed's own functions
- ``module-<role>-<cluster>.txt``  cProfile of one module's in-process code path (what the action plugin runs in
                  Ansible's worker) with the very arguments of that run, outside Ansible; ``--module`` picks it

Not measured like bench/run.py: profilers slow what they watch. Use it for shares, not for seconds.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import io
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import run as bench  # noqa: E402  pylint: disable=wrong-import-position

MODULES = {  # role -> (module spec name in module_utils/args_common.py, run function in module_utils/module_backends/<module>.py)
    "import": ("SERVICE_IMPORT_MODULE", "run_service_import"),
    "export": ("SERVICE_EXPORT_MODULE", "run_service_export"),
    "gateway": ("PRIVATE_GATEWAY_MODULE", "run_private_gateway"),
}


def playbook_json(checkout, directory):
    run = bench.ansible_playbook(checkout, directory)
    if run.rc != 0:
        raise RuntimeError(run.stdout[-3000:] + run.stderr[-3000:])
    return run


def requests_table(run):
    lines, totals = [], collections.Counter()
    for task, host, res in run.task_results():
        requests = dict((verb, n) for verb, n in (res.get("api_requests") or {}).items() if n)
        if requests:
            totals.update(requests)
            lines.append("%-60s %-9s %s" % (task[:60], host, " ".join("%s=%d" % kv for kv in sorted(requests.items()))))
    lines.append("total: %s" % " ".join("%s=%d" % kv for kv in sorted(totals.items())))
    return "\n".join(lines) + "\n"


def profile_tasks(checkout, directory):
    env = {"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks", "PROFILE_TASKS_SORT_ORDER": "none",
           "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "all"}
    start = time.monotonic()
    run = bench.ansible_playbook(checkout, directory, callback=None, env=env)
    return run, time.monotonic() - start


def py_spy(checkout, directory, out):
    """py-spy over ansible-playbook and its forks; returns the raw (collapsed) stacks' path."""
    raw = os.path.join(out, "py-spy.raw")
    env = checkout.env()
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    env["ANSIBLE_INJECT_INVOCATION"] = "true"  # the module arguments are read back (ansible-core 2.21 omits them)
    command = ["py-spy", "record", "--subprocesses", "--full-filenames", "--rate", "100", "--format", "raw",
               "--output", raw, "--",
               "ansible-playbook", os.path.join(checkout.root, "playbooks", "federate.yml"),
               "-i", bench.inventory_dir(directory)]
    done = subprocess.run(command, cwd=checkout.root, env=env, capture_output=True, text=True,
                          timeout=bench.TIMEOUT[0], check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return raw


def frame_name(frame):
    """'function (file:line)' -> 'file:function', the file shortened to what follows ansible_collections/,
    site-packages/ or lib/python3.x/."""
    function, dummy, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    for marker in ("ansible_collections/", "site-packages/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return "%s:%s" % (path, function)


# Where a sample goes: the first rule (in this order) one of whose frames is in its stack. Worker rules apply to the
# forks (one task, one host), main rules to Ansible's main process.
WORKER_BUCKETS = (
    ("task arguments templated (Task.post_validate: the federation variable)", ("Task.post_validate",)),
    ("module: argument validation (in_process.validate_args)", ("in_process.py:validate_args",)),
    ("module: remove_values over the result (in_process.run_in_process)", ("parameters.py:remove_values",)),
    ("module: federation loaded (federation.load_federation)", ("federation.py:load_federation",)),
    ("module: rendering (module_utils/render)", ("/render/",)),
    ("module: client and discovery (ClusterClient.__init__, .resource)",
     ("ClusterClient.__init__", "ClusterClient.resource")),
    ("module: reads (engine.read_live: requests, TLS, JSON)", ("engine.py:read_live",)),
    ("module: writes (engine.converge: server-side apply)", ("engine.py:converge",)),
    ("module: waiting for Deployments (wait_available)", ("wait_available",)),
    ("module: plan (apply.plan_changes)", ("apply.py:plan_changes",)),
    ("module: other", ("in_process.py:InProcessModuleAction.run",)),
    ("result sent to the main process", ("send_task_result",)),
)
MAIN_BUCKETS = (
    ("the JSON callback's document (ansible.posix.json, at the end; the default callback has none)",
     ("v2_playbook_on_stats",)),
    ("results made plain for callbacks (CallbackTaskResult.result)", ("CallbackTaskResult.result",)),
    ("inventory parsed", ("InventoryManager.__init__",)),
    ("results received (results thread: unpickling)", ("results_thread_main",)),
    ("results processed (strategy, callbacks)", ("_process_pending_results",)),
    ("forking workers", ("Popen._launch",)),
    ("imports", ("_find_and_load",)),
    ("polling for results (_wait_on_pending_results)", ("_wait_on_pending_results",)),
)


def bucket(names, rules):
    for label, needles in rules:
        if any(needle in name for name in names for needle in needles):
            return label
    return None


def stacks_report(raw, top=40):
    """Samples per function, self and inclusive (each function counted once per stack), over every process."""
    own, inclusive, total = collections.Counter(), collections.Counter(), 0
    buckets, others = collections.Counter(), collections.Counter()
    by_process = collections.Counter()
    with open(raw) as f:
        for line in f:
            stack, dummy, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            n = int(count)
            total += n
            frames = stack.split(";")
            processes = [fr for fr in frames if fr.startswith("process ")]
            # Ansible's main process, or a worker (a fork of it running one task for one host), nested in py-spy's
            # stacks as 'process <main pid>;process <worker pid>;...'
            by_process["worker (one task, one host)" if len(processes) > 1 else "main"] += n
            names = [frame_name(fr) for fr in frames if not fr.startswith("process ")] or ["(no Python frame)"]
            worker = len(processes) > 1
            label = bucket(names, WORKER_BUCKETS if worker else MAIN_BUCKETS)
            if label is None:
                label = "other"
                others[("worker" if worker else "main", " > ".join(names[-3:]))] += n
            buckets[("worker" if worker else "main", label)] += n
            own[names[-1]] += n
            for name in set(names):
                inclusive[name] += n
    lines = ["%d samples at 100 Hz (%.1f s of CPU or waiting, all processes and threads)" % (total, total / 100.0), "",
             "per process:"]
    lines += ["  %6d %5.1f%%  %s" % (n, 100.0 * n / total, p) for p, n in by_process.most_common(10)]
    lines += ["", "where (workers: summed over every task and host):"]
    lines += ["  %6d %5.1f%%  %-6s %s" % (n, 100.0 * n / total, who, label) for (who, label), n in buckets.most_common()]
    lines += ["", "'other', the innermost frames:"]
    lines += ["  %6d %5.1f%%  %-6s %s" % (n, 100.0 * n / total, who, where) for (who, where), n in others.most_common(15)]
    lines += ["", "self (top %d):" % top]
    lines += ["  %6d %5.1f%%  %s" % (n, 100.0 * n / total, name) for name, n in own.most_common(top)]
    lines += ["", "inclusive (top %d):" % top]
    lines += ["  %6d %5.1f%%  %s" % (n, 100.0 * n / total, name) for name, n in inclusive.most_common(top)]
    lines += ["", "inclusive, meshfed's own functions:"]
    lines += ["  %6d %5.1f%%  %s" % (n, 100.0 * n / total, name) for name, n in inclusive.most_common()
              if name.startswith("meshfed/")][:top]
    return "\n".join(lines) + "\n"


def module_args(run, role, cluster):
    """The arguments the playbook passed to the role's module for ``cluster`` (its result's invocation); those of its
    preflight, as a run's, when the run skipped the converge (its preflight planned no write anywhere)."""
    for preflight in (False, True):
        for dummy, host, res in run.task_results("meshfed.federation." + MODULES[role][1][len("run_"):], preflight):
            if host == cluster and "invocation" in res:
                # the result hides the kubeconfig (no_log in kubernetes.core's auth options): it is the lab's
                return dict(res["invocation"]["module_args"], kubeconfig=bench.KUBECONFIG, preflight=False)
    raise RuntimeError("no %s result for %s" % (role, cluster))


def profile_module(checkout, args, role, phase, federation):
    """cProfile of the in-process module path (plugin_utils/in_process.run_in_process with the module's spec and
    code) for ``args``; for the first converge the federation is cleaned first (the other roles' objects too)."""
    sys.path.insert(0, checkout.collections)
    import importlib
    from ansible_collections.meshfed.federation.plugins.module_utils import args_common
    from ansible_collections.meshfed.federation.plugins.plugin_utils.in_process import run_in_process
    spec_name, function = MODULES[role]
    if phase == "first":
        bench.clean(federation)
    # what Ansible's main process imported before it forked the worker: the action plugin (and the backends it
    # imports); what the profile then shows is what each worker pays again
    importlib.import_module("ansible_collections.meshfed.federation.plugins.action.meshfed")
    backend = importlib.import_module("ansible_collections.meshfed.federation.plugins.module_utils.module_backends."
                                      + function[len("run_"):])
    profiler = cProfile.Profile()
    start = time.monotonic()
    profiler.enable()
    result = run_in_process(getattr(args_common, spec_name), getattr(backend, function), args, False, False)
    profiler.disable()
    elapsed = time.monotonic() - start
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)
    body = text.getvalue().replace(checkout.collection + "/", "meshfed/")
    for site in sorted(set(p for p in sys.path if p.endswith("site-packages")), key=len, reverse=True):
        body = body.replace(site + "/", "")
    body = body.replace(os.path.dirname(os.__file__) + "/", "")
    head = "%s %s, %s: %.2f s wall; result: failed=%s changed=%s api_requests=%s; %s\n" % (
        role, args.get("cluster"), phase, elapsed, result.get("failed"), result.get("changed"),
        result.get("api_requests"), result.get("summary") or result.get("msg"))
    return head + body


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--phase", choices=("first", "noop"), default="noop")
    parser.add_argument("--module", nargs=2, default=("import", "cluster1"), metavar=("ROLE", "CLUSTER"),
                        help="the module to cProfile outside Ansible: import|export|gateway and a cluster")
    parser.add_argument("--no-py-spy", action="store_true")
    parser.add_argument("--out", help="output directory (default: a new one under /tmp)")
    args = parser.parse_args()
    bench.TIMEOUT[0] = 600 + 3 * args.size
    out = args.out or tempfile.mkdtemp(prefix="meshfed-profile-k%d-%s-" % (args.size, args.phase))
    os.makedirs(out, exist_ok=True)
    checkout = bench.current_checkout(out)
    sys.path.insert(0, checkout.collections)
    federation = "bench-k%d" % args.size
    directory = os.path.join(out, "k%d" % args.size)
    os.makedirs(directory)
    bench.write_inventory(directory, args.size, federation)
    print("profile directory %s; load %s" % (out, "%.2f %.2f %.2f" % os.getloadavg()), flush=True)
    bench.clean_benchmarks()

    def prepare():
        if args.phase == "first":
            bench.clean(federation)

    playbook_json(checkout, directory)  # certificates, and a converged federation
    prepare()
    run = playbook_json(checkout, directory)
    with open(os.path.join(out, "requests.txt"), "w") as f:
        f.write(requests_table(run))
    role, cluster = args.module
    module_arguments = module_args(run, role, cluster)
    prepare()
    tasks, elapsed = profile_tasks(checkout, directory)
    with open(os.path.join(out, "tasks.txt"), "w") as f:
        f.write("%s, K=%d: %.2f s wall (with profile_tasks), load after %s\n\n" % (
            args.phase, args.size, elapsed, "%.2f %.2f %.2f" % os.getloadavg()))
        f.write(tasks.stdout[-20000:])
    print("profile_tasks run: %.2f s" % elapsed, flush=True)
    if not args.no_py_spy and shutil.which("py-spy"):
        prepare()
        start = time.monotonic()
        raw = py_spy(checkout, directory, out)
        with open(os.path.join(out, "py-spy.txt"), "w") as f:
            f.write("%s, K=%d: %.2f s wall under py-spy\n" % (args.phase, args.size, time.monotonic() - start))
            f.write(stacks_report(raw))
        print("py-spy run done", flush=True)
    if args.phase == "noop":
        playbook_json(checkout, directory)  # converged again after anything above
    text = profile_module(checkout, module_arguments, role, args.phase, federation)
    with open(os.path.join(out, "module-%s-%s.txt" % (role, cluster)), "w") as f:
        f.write(text)
    print(text.splitlines()[0])
    bench.clean(federation)
    print("load after %s; results in %s" % ("%.2f %.2f %.2f" % os.getloadavg(), out))


if __name__ == "__main__":
    main()
