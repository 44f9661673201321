#!/usr/bin/env python
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn bench/results.json (written by bench/run.py) into the tables of docs/performance.md."""

from __future__ import annotations

import json
import math
import statistics
import sys


def median(values):
    return statistics.median(values) if values else float("nan")


def spread(values):
    """(max - min) / median: how noisy the runs were."""
    return (max(values) - min(values)) / median(values) if len(values) > 1 else float("nan")


def percent(value):
    return "-" if math.isnan(value) else "%.0f%%" % (100 * value)  # a single run has no spread


def requests_total(requests):
    return sum(v for v in requests.values() if isinstance(v, int)) if requests else 0


def main(path):
    with open(path) as f:
        results = json.load(f)
    lines = ["| K | objects | approach | first converge (s) | no-op re-run (s) | runs | spread first/no-op | "
             "API requests first / no-op |", "|---|---|---|---|---|---|---|---|"]
    ratios = ["| K | first: meshfed / kubectl | no-op: meshfed / kubectl | naive / meshfed (first) | "
              "naive / meshfed (no-op) |", "|---|---|---|---|---|"]
    for k, row in sorted(results["sizes"].items(), key=lambda item: int(item[0])):
        for approach in ("meshfed", "kubectl", "naive"):
            if approach not in row:
                continue
            r = row[approach]
            req = r.get("requests") or {}
            lines.append("| %s | %s | %s | %.2f | %.2f | %d | %s / %s | %s / %s |" % (
                k, row.get("objects", "?"), approach, median(r["first"]), median(r["noop"]), len(r["first"]),
                percent(spread(r["first"])), percent(spread(r["noop"])),
                requests_total(req.get("first")) or "-", requests_total(req.get("noop")) or "-"))
        m, a = row["meshfed"], row["kubectl"]
        naive = row.get("naive")
        ratios.append("| %s | %.2f | %.2f | %s | %s |" % (
            k, median(m["first"]) / median(a["first"]), median(m["noop"]) / median(a["noop"]),
            "%.1f" % (median(naive["first"]) / median(m["first"])) if naive else "-",
            "%.1f" % (median(naive["noop"]) / median(m["noop"])) if naive else "-"))
    print("\n".join(lines))
    print()
    print("\n".join(ratios))
    print()
    print("Machine: %s" % json.dumps(results["machine"]))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/results.json")
