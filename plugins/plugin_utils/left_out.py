# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The clusters a run left out, named at its end: a cluster whose preflight or apply failed (its API server
unreachable, its kubeconfig wrong, ...) drops out of the run alone while the others converge."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def failure_of(cluster, results):
    """The message of the first failed result among ``results`` (a cluster's role results), naming the cluster."""
    failed = next((r for r in results if isinstance(r, dict) and r.get("failed")), None)
    msg = (failed or {}).get("msg") or "failed (see its failed task above)"
    prefix = "cluster %s:" % cluster
    return msg if msg.startswith(prefix) else "%s %s" % (prefix, msg)


def left_out_message(clusters, remaining, results):
    """The clusters the run left out, or "" when it went through on every cluster it ran on.

    clusters   every cluster of the play, in order (those outside --limit too)
    remaining  the clusters still in the play at its end
    results    cluster -> its registered role results; a cluster with none was not part of this run
    """
    ran = [c for c in clusters if any(isinstance(r, dict) for r in results.get(c, ()))]
    left_out = [c for c in ran if c not in remaining]
    if not left_out:
        return ""
    return "This run left out %d of its %d clusters, where it failed: %s" % (
        len(left_out), len(ran), "; ".join(failure_of(c, results[c]) for c in left_out))
