# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`lab check`: per cluster the API server, node, Istio CRDs, istioctl analyze, istiod's health, and per proxy
its xDS sync state (istiod's /debug/syncz), its rejected updates and its SDS secrets (Envoy's admin)."""

from __future__ import annotations

import json
import subprocess

from labkit import clusters, envoy_admin, istiod, procs
from labkit.common import LabError, cluster_sort_key
from labkit.istio_base import ISTIO_GROUPS, REQUIRED_CRDS
from labkit.state import Lab


def istioctl_analyze(lab: Lab, context: str, timeout: float = 120) -> dict:
    """Run `istioctl analyze -A` on one context; returns {rc, messages, errors, warnings, stderr}."""
    cmd = [
        str(lab.bin_dir() / "istioctl"), "analyze", "-A", "--use-kube=true",
        "--kubeconfig", str(lab.kubeconfig), "--context", context, "-o", "json",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    messages: list = []
    out = proc.stdout.strip()
    if out:
        try:
            messages = json.loads(out[out.index("["):]) if "[" in out else []
        except ValueError:
            messages = [{"level": "Error", "code": "LAB-PARSE", "message": out[:500]}]
    elif proc.returncode != 0:
        messages = [{"level": "Error", "code": "LAB-RUN", "message": proc.stderr.strip()[:500]}]
    levels = [m.get("level") for m in messages]
    return {
        "rc": proc.returncode,
        "messages": messages,
        "errors": levels.count("Error"),
        "warnings": levels.count("Warning"),
        "infos": levels.count("Info"),
        "stderr": proc.stderr.strip()[-1000:],
    }


def sync_state(entry: dict) -> str:
    """SYNCED, or STALE with the xDS types whose last push istiod sent is not the last the proxy acknowledged
    (one /debug/syncz entry; a rejected push stays unacknowledged, and Envoy counts it in update_rejected)."""
    stale = [k[:-5] for k in entry if k.endswith("_sent") and entry.get(k) != entry.get(k[:-5] + "_acked")]
    return "STALE " + ",".join(sorted(stale)) if stale else "SYNCED"


def check_proxies(lab: Lab, name: str, info: dict) -> tuple[list[dict], list[str]]:
    workloads = lab.workloads(name)
    if not workloads:
        return [], []
    try:
        syncz = istiod.debug(info["istiod"], "/debug/syncz")
    except (OSError, ValueError) as e:
        return [], [f"istiod /debug/syncz: {e}"]
    by_proxy = {entry.get("proxy"): entry for entry in syncz}  # proxy: "<pod>.<namespace>"
    results, problems = [], []
    for w in workloads:
        r = {"pod": w["pod"], "namespace": w["namespace"], "kind": w["kind"], "ip": w["ip"],
             "admin_port": w["admin_port"], "sync": "NOT CONNECTED", "rejected": None, "secrets": [],
             "faults": w.get("faults", [])}
        entry = by_proxy.get(w["proxy_id"])
        if entry:
            r["sync"] = sync_state(entry)
        try:
            r["rejected"] = envoy_admin.rejected_updates(w["netns"], w["admin_port"])
            r["secrets"] = envoy_admin.active_secrets(w["netns"], w["admin_port"])
        except (OSError, ValueError) as e:
            r["admin_error"] = str(e)
        if r["sync"] != "SYNCED":
            problems.append(f"proxy {w['namespace']}/{w['pod']}: xDS {r['sync']}")
        if r["rejected"]:
            problems.append(f"proxy {w['namespace']}/{w['pod']}: {r['rejected']} rejected xDS updates")
        if r.get("admin_error"):
            problems.append(f"proxy {w['namespace']}/{w['pod']}: Envoy admin: {r['admin_error']}")
        results.append(r)
    return results, problems


def check_cluster(lab: Lab, name: str, quick: bool) -> dict:
    res: dict = {"name": name, "up": False, "version": None, "nodes": 0, "ready_nodes": 0,
                 "istio_crds": [], "missing_crds": [], "server": clusters.server(lab, name),
                 "ports": [], "analyze": None, "istiod": None, "proxies": [], "problems": []}
    pids = clusters.cluster_pids(lab, name)
    res["pids"] = pids
    res["ports"] = sorted({s["port"] for s in procs.listening(set(pids.values()))})
    try:
        ver = json.loads(lab.kubectl(name, "get", "--raw", "/version", timeout=20).stdout)
        res["version"] = ver.get("gitVersion")
        res["up"] = True
    except (LabError, subprocess.TimeoutExpired, ValueError) as e:
        res["problems"].append(f"API server not reachable: {e}")
        return res
    nodes = json.loads(lab.kubectl(name, "get", "nodes", "-o", "json").stdout)["items"]
    res["nodes"] = len(nodes)
    res["ready_nodes"] = sum(
        1 for nd in nodes for c in (nd.get("status") or {}).get("conditions") or []
        if c["type"] == "Ready" and c["status"] == "True")
    if not res["ready_nodes"]:
        res["problems"].append("no Ready node")
    crds = json.loads(lab.kubectl(name, "get", "crd", "-o", "json").stdout)["items"]
    established = {
        c["metadata"]["name"] for c in crds
        if c["spec"]["group"] in ISTIO_GROUPS and any(
            x["type"] == "Established" and x["status"] == "True"
            for x in (c.get("status") or {}).get("conditions") or [])}
    res["istio_crds"] = sorted(established)
    res["missing_crds"] = [c for c in REQUIRED_CRDS if c not in established]
    if res["missing_crds"]:
        res["problems"].append(f"Istio CRDs missing: {res['missing_crds']}")
    mesh = (lab.state().get("mesh") or {}).get("clusters", {}).get(name)
    if mesh:
        healthy = istiod.healthy(mesh["istiod"])
        res["istiod"] = {"healthy": healthy, "pid": mesh["istiod"]["pid"], "ports": mesh["istiod"]["ports"]}
        if not healthy:
            res["problems"].append("istiod not ready")
        else:
            res["proxies"], problems = check_proxies(lab, name, mesh)
            res["problems"].extend(problems)
    if not quick:
        a = istioctl_analyze(lab, name)
        res["analyze"] = a
        if a["errors"]:
            res["problems"].append(f"istioctl analyze: {a['errors']} Error(s)")
    return res


def cmd_check(lab: Lab, as_json: bool, quick: bool) -> int:
    state = lab.state()
    names = sorted(set(state.get("clusters", {})) | set(lab.existing_clusters()), key=cluster_sort_key)
    results = [check_cluster(lab, n, quick) for n in names] if state else []
    ok = bool(results) and all(r["up"] and not r["problems"] for r in results)
    summary = {"ok": ok, "kubeconfig": str(lab.kubeconfig), "home": str(lab.home),
               "bin_dir": state.get("bin_dir"), "kubectl": state.get("kubectl"), "mesh": bool(state.get("mesh")),
               "contexts": names, "clusters": results}
    if not results:
        summary["problems"] = ["the lab is not up; run: tools/lab/lab up"]
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        print_report(lab, summary, results)
    return 0 if ok else 1


def print_report(lab: Lab, summary: dict, results: list[dict]) -> None:
    print(f"kubeconfig: {lab.kubeconfig}")
    hdr = (f"{'context':<10} {'up':<4} {'version':<9} {'nodes':<6} {'istio CRDs':<11} {'istiod':<8} "
           f"{'analyze':<14} server")
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        a = r["analyze"]
        an = "skipped" if a is None else f"{a['errors']}E {a['warnings']}W {a['infos']}I"
        pilot = "-" if r["istiod"] is None else ("ready" if r["istiod"]["healthy"] else "DOWN")
        print(f"{r['name']:<10} {'yes' if r['up'] else 'NO':<4} {r['version'] or '-':<9} "
              f"{r['ready_nodes']}/{r['nodes']:<4} {len(r['istio_crds']):<11} {pilot:<8} {an:<14} {r['server']}")
    for r in results:
        for p in r["proxies"]:
            secrets = sum(1 for s in p["secrets"] if s["certificate"] or s["validation"])
            print(f"{r['name']} proxy {p['namespace']}/{p['pod']:<40} {p['kind']:<8} {p['ip']:<15} xDS {p['sync']:<8} "
                  f"rejected {p['rejected']} SDS secrets {secrets}"
                  f"{'  FAULTS ' + ', '.join(p['faults']) if p['faults'] else ''}")
        if r["analyze"]:
            for m in r["analyze"]["messages"]:
                print(f"{r['name']} analyze {m.get('level')} {m.get('code')}: {m.get('origin', '')} "
                      f"{m.get('message', '')[:140]}")
        for p in r["problems"]:
            print(f"{r['name']} PROBLEM: {p}")
    for p in summary.get("problems", []):
        print(f"PROBLEM: {p}")
    print("OK" if summary["ok"] else "NOT OK")
