# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one verdict over the federation_lock results of every cluster of a run (the lock_refusal filter)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def refusal_verdict(results):
    """The message every cluster of a run fails with when another run holds the lock of one of them, else "".
    ``results``: [(cluster, what its lock task registered, or None)], in the play's order."""
    refused = [(cluster, r) for cluster, r in results if isinstance(r, dict) and r.get("held_by")]
    if not refused:
        return ""
    return ("Another run holds the federation's lock in %s, so this run changes no cluster. %s"
            % (", ".join(cluster for cluster, dummy in refused), " ".join(r.get("msg", "") for dummy, r in refused)))
