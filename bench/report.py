#!/usr/bin/env python
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn bench/results.json (written by bench/run.py) into the tables of docs/performance.md.

With a run of ``bench/run.py --compare REF``, the table has a row per size for REF's meshfed too, and the ratios
table its ratios to kubectl and this checkout's against it, per round (the runs of both took turns).

Given several results files (e.g. one run for K = 10 and 100, one for K = 1000), it also prints how the cost grows
with K: milliseconds and API requests per object, and the peak RSS of the controller's largest process."""

from __future__ import annotations

import json
import math
import statistics
import sys

APPROACHES = ("meshfed", "compare", "overlap", "kubectl", "naive", "one_task")


def median(values):
    return statistics.median(values) if values else float("nan")


def min_max(values):
    """'min–max' of the runs of a cell; '-' for a single run (it has no spread)."""
    return "%.2f–%.2f" % (min(values), max(values)) if len(values) > 1 else "-"


def ratio(numerator, denominator, digits=2):
    value = median(numerator) / median(denominator) if numerator and denominator else float("nan")
    return "-" if math.isnan(value) else "%.*f" % (digits, value)


def paired(numerator, denominator):
    """Median and min–max of the per-round ratios (run i of one approach over run i of the other)."""
    ratios = [a / b for a, b in zip(numerator, denominator)]
    if not ratios:
        return "-"
    if len(ratios) == 1:
        return "%.2f" % ratios[0]
    return "%.2f (%.2f–%.2f)" % (median(ratios), min(ratios), max(ratios))


def requests_total(requests):
    return sum(v for v in requests.values() if isinstance(v, int)) if requests else 0


def labels(results):
    """Display names: the meshfed approaches by their commits when the results say them."""
    names = dict((a, a) for a in APPROACHES)
    approaches = results.get("approaches") or {}
    if "meshfed" in approaches and "compare" in approaches:
        names["meshfed"] = "meshfed (%s)" % approaches["meshfed"]["commit"][:7]
    if "compare" in approaches:
        compare = results.get("compare") or approaches["compare"]
        names["compare"] = "meshfed %s (%s)" % (compare["commit"][:7], compare.get("ref", "compare"))
    return names


def tables(results):
    names = labels(results)
    compared = any("compare" in row for row in results["sizes"].values())
    overlapped = any("overlap" in row for row in results["sizes"].values())
    short = (results.get("compare") or {}).get("commit", "")[:7] or "ref"
    lines = ["| K | objects | approach | first converge (s) | first min–max | no-op re-run (s) | no-op min–max | runs | "
             "load (1 min) min–max | API requests first / no-op |", "|---|---|---|---|---|---|---|---|---|---|"]
    header = ["K", "first: meshfed / kubectl", "no-op: meshfed / kubectl"]
    if compared:
        header += ["first: %s / kubectl" % short, "no-op: %s / kubectl" % short,
                   "first: meshfed / %s, per round" % short, "no-op: meshfed / %s, per round" % short]
    if overlapped:
        header += ["first: overlap / meshfed, per round", "no-op: overlap / meshfed, per round"]
    header += ["naive / meshfed (first)", "naive / meshfed (no-op)"]
    ratios = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for k, row in sorted(results["sizes"].items(), key=lambda item: int(item[0])):
        for approach in APPROACHES:
            if approach not in row:
                continue
            r = row[approach]
            req = r.get("requests") or {}
            load = r.get("load") or []
            lines.append("| %s | %s | %s | %.2f | %s | %.2f | %s | %d | %s | %s / %s |" % (
                k, row.get("objects", "?"), names[approach], median(r["first"]), min_max(r["first"]),
                median(r["noop"]), min_max(r["noop"]), len(r["first"]),
                ("%.2f–%.2f" % (min(load), max(load))) if load else "-",
                requests_total(req.get("first")) or "-", requests_total(req.get("noop")) or "-"))
        m, a = row["meshfed"], row.get("kubectl") or {}
        naive = row.get("naive") or {}
        cells = [k, ratio(m["first"], a.get("first")), ratio(m["noop"], a.get("noop"))]
        if compared:
            c = row.get("compare") or {}
            cells += [ratio(c.get("first"), a.get("first")), ratio(c.get("noop"), a.get("noop")),
                      paired(m["first"], c.get("first") or []), paired(m["noop"], c.get("noop") or [])]
        if overlapped:
            o = row.get("overlap") or {}
            cells += [paired(o.get("first") or [], m["first"]), paired(o.get("noop") or [], m["noop"])]
        cells += [ratio(naive.get("first"), m["first"], 1), ratio(naive.get("noop"), m["noop"], 1)]
        ratios.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return lines, ratios


def per_object(all_results):
    """Rows of how meshfed's cost grows with K, from every size of every results file."""
    lines = ["| K | objects | first: ms per object (kubectl) | no-op: ms per object (kubectl) | "
             "first: requests per object | no-op: requests per object | peak RSS first / no-op (MiB) |",
             "|---|---|---|---|---|---|---|"]
    rows = sorted(((int(k), row) for results in all_results for k, row in results["sizes"].items()),
                  key=lambda item: item[0])
    for k, row in rows:
        m, a, objects = row["meshfed"], row.get("kubectl") or {}, row.get("objects") or 0
        req = m.get("requests") or {}
        rss = m.get("peak_rss_mib") or {}

        def ms(values, objects=objects):
            return "%.1f" % (1000 * median(values) / objects) if values and objects else "-"
        lines.append("| %d | %d | %s (%s) | %s (%s) | %.3f | %.3f | %s / %s |" % (
            k, objects, ms(m["first"]), ms(a.get("first")), ms(m["noop"]), ms(a.get("noop")),
            requests_total(req.get("first")) / float(objects or 1), requests_total(req.get("noop")) / float(objects or 1),
            ("%.0f" % max(rss["first"])) if rss.get("first") else "-", ("%.0f" % max(rss["noop"])) if rss.get("noop") else "-"))
    return lines


def main(paths):
    all_results = []
    for path in paths:
        with open(path) as f:
            results = json.load(f)
        all_results.append(results)
        lines, ratios = tables(results)
        print("\n".join(lines))
        print()
        print("\n".join(ratios))
        print()
        print("Machine: %s" % json.dumps(results["machine"]))
        for name, approach in sorted((results.get("approaches") or {}).items()):
            print("%s: %s, commit %s, collection %s" % (name, approach["label"], approach["commit"], approach["collection"]))
        print()
    print("\n".join(per_object(all_results)))


if __name__ == "__main__":
    main(sys.argv[1:] or ["bench/results.json"])
