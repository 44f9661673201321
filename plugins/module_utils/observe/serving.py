# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which destinations of an import serve, as far as the controller can see: the local copy by its ready pods (what
the cluster's API shows), each source by its link probe (the consumer's credential, from the operator's machine).

Neither is what the sidecars see: they eject a destination after consecutive errors of real requests (outlier
detection), which no API shows. A hung app in a Ready pod, or a path the probe does not take, is served around by
the sidecars and shown here as up; a probe that fails from the operator's machine while the cluster reaches the peer
is shown here as down. The report says so."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.model.types import FAILOVER, LOCAL, SPLIT

UP, DOWN, UNKNOWN = "up", "down", "unknown"
SEEN_BY = "local copy: its ready pods (the cluster's API); sources: the link probes (not the sidecars' outlier detection)"


def is_ready(pod):
    conditions = (pod.get("status") or {}).get("conditions") or []
    return (pod.get("status") or {}).get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def ready_pods(pods, selector):
    """How many of ``pods`` carry every label of ``selector`` and are Ready."""
    return sum(1 for pod in pods
               if all(((pod.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in selector.items())
               and is_ready(pod))


def destination_health(local_ready, links):
    """{destination: UP, DOWN or UNKNOWN}: LOCAL by ``local_ready`` (a count, or None when not read), each source
    cluster by its probed link (None when not probed; a drained link is down for this import)."""
    health = {}
    if local_ready is not None:
        health[LOCAL] = UP if local_ready > 0 else DOWN
    for cluster, link in links.items():
        health[cluster] = UNKNOWN if link is None else DOWN if link.get("down") or link.get("drained") else UP
    return health


def serving(summary, health):
    """What serves one import (its summary, federation_model.import_summary) by ``health``: ``serving`` the
    destinations that take its traffic now, ``failing_over`` whether that is not what it takes when all is up;
    a destination of unknown health counts as up."""
    order = summary["order"]
    up = [name for name in order if health.get(name, UNKNOWN) != DOWN]
    weights = summary["weights"]
    if summary["mode"] == FAILOVER:
        now = up[:1]
        first = order[:1]
    elif summary["mode"] == SPLIT:
        # a split keeps sending a failing destination its share: what serves is what is up of those with one
        first = [name for name in order if weights.get(name)]
        now = [name for name in first if name in up]
    else:
        first = [name for name in order if weights.get(name)]
        now = [name for name in first if name in up] or up[:1]
    return {"serving": now, "failing_over": summary["mode"] != SPLIT and now != first,
            "failing": [name for name in first if name not in up],
            "health": dict((name, health.get(name, UNKNOWN)) for name in order), "seen_by": SEEN_BY}
