# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How an import shares its traffic between its destinations (its local copy and its sources): read from a
``meshfed_imports`` entry, checked, and the destinations in the order each one falls back on the others.

* ``mode: split`` (the default): fixed weights; Istio picks a destination once per request and keeps to it, so a
  failing destination's share keeps failing.
* ``mode: weighted``: the same weights while every destination is healthy; each destination's share falls back on
  the others, in the order the import lists them (local first), while it is ejected.
* ``mode: failover``: ``order`` (default: local, then the sources as ``from`` lists them); the first healthy
  destination takes all the traffic.
* ``outlier_detection``: when a destination is taken out (weighted and failover only), OUTLIER_DETECTION_DEFAULTS.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
from collections import namedtuple

from ansible_collections.meshfed.federation.plugins.module_utils.model.checks import check_duration, check_unknown_keys
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import LEG_PORTS, binding_id, host_part
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import (
    FAILOVER, IMPORT_MODES, LOCAL, OUTLIER_DETECTION_DEFAULTS, OutlierDetection, SPLIT)

# one source of a weighted or failover import: the egress gateway's port for it
Leg = namedtuple("Leg", "imported source port")
OUTLIER_COUNTS = ("consecutive_5xx_errors", "consecutive_gateway_errors", "consecutive_local_origin_failures")
OUTLIER_DURATIONS = ("interval", "base_ejection_time")


def parse_balance(problems, where, raw, protocol):
    """(mode, order, outlier_detection) of one import entry; a problem added for each field that is wrong."""
    mode = raw.get("mode", SPLIT)
    if mode not in IMPORT_MODES:
        problems.add(where, "mode %r must be one of %s" % (mode, ", ".join(IMPORT_MODES)))
        return SPLIT, None, None
    order = raw.get("order")
    if order is not None:
        if mode != FAILOVER:
            problems.add(where, "order applies to mode failover only (this import's mode is %s)" % mode)
            order = None
        elif not isinstance(order, list) or not order or not all(isinstance(o, str) and o for o in order):
            problems.add(where, "order must list %s and the clusters of from, e.g. [%s, cluster2]" % (LOCAL, LOCAL))
            order = None
        else:
            order = tuple(order)
    raw_outlier = raw.get("outlier_detection")
    outlier = None
    if mode != SPLIT:
        outlier = _parse_outlier_detection(problems, where, {} if raw_outlier is None else raw_outlier, protocol)
    elif raw_outlier is not None:
        problems.add(where, "outlier_detection applies to modes weighted and failover only (this import's mode is %s)"
                     % mode)
    return mode, order, outlier


def _parse_outlier_detection(problems, where, raw, protocol):
    o_where = where + ": outlier_detection"
    if not isinstance(raw, dict):
        problems.add(o_where, "must be a mapping of %s" % ", ".join(OutlierDetection._fields))
        return None
    check_unknown_keys(problems, o_where, raw, OutlierDetection._fields)
    values = OUTLIER_DETECTION_DEFAULTS._asdict()
    values.update((k, v) for k, v in raw.items() if k in values)
    for field in OUTLIER_COUNTS:
        value = values[field]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000):
            problems.add(o_where, "%s %r must be an integer from 1 to 1000" % (field, value))
    if values["consecutive_local_origin_failures"] is not None and protocol == "http":
        problems.add(o_where, "consecutive_local_origin_failures applies to tcp and tls imports (an http import's "
                              "connect failures count as gateway errors)")
    for field in OUTLIER_DURATIONS:
        check_duration(problems, o_where, field, values[field])
    percent = values["max_ejection_percent"]
    if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 100:
        problems.add(o_where, "max_ejection_percent %r must be an integer from 1 to 100" % (percent,))
    return OutlierDetection(**values)


def destination_names(imported):
    """The names an import's destinations go by in ``order``: LOCAL for the local copy, a source's cluster."""
    return ([LOCAL] if imported.local is not None else []) + [s.cluster for s in imported.sources]


def check_balance(problems, where, imported):
    """What mode, order and weights must agree on, once the sources are known; True when the import is sound."""
    names = destination_names(imported)
    if imported.mode == SPLIT:
        return True
    sound = True
    if len(names) < 2:
        problems.add(where, "mode %s needs at least two destinations (local and from), this import has %s"
                     % (imported.mode, names[0] if names else "none"))
        sound = False
    if LOCAL in names[1 if imported.local is not None else 0:]:
        problems.add(where, "mode %s names the local copy %s: a source cluster cannot be called %s"
                     % (imported.mode, LOCAL, LOCAL))
        sound = False
    parts = [host_part(n) for n in names]
    repeated = sorted({n for n, part in zip(names, parts) if parts.count(part) > 1})
    if repeated:
        problems.add(where, "mode %s needs one source per cluster; from names %s more than once (or as the same DNS "
                            "label)" % (imported.mode, ", ".join(repeated)))
        sound = False
    if imported.mode == FAILOVER:
        weighted = [n for n, d in zip(names, destinations(imported)) if d.weight is not None]
        if weighted:
            problems.add(where, "weight applies to modes split and weighted; mode failover takes order (weight "
                                "given on %s)" % ", ".join(weighted))
            sound = False
        if imported.order is not None and sorted(imported.order) != sorted(names):
            problems.add(where, "order %s must name each of %s once" % (list(imported.order), ", ".join(names)))
            sound = False
    return sound


def destinations(imported):
    """The local copy (if any), then the sources: in the order of destination_names."""
    return ([imported.local] if imported.local is not None else []) + list(imported.sources)


def fallback_orders(imported):
    """Each destination that takes traffic first, with the order in which its traffic falls back on the others:
    failover, one (the import's order, default local then from); weighted, one per destination (itself, then the
    others as the import lists them). [(name, weight or None, (names...))]."""
    names = destination_names(imported)
    if imported.mode == FAILOVER:
        order = tuple(imported.order) if imported.order else tuple(names)
        return [(order[0], None, order)]
    weights = [d.weight for d in destinations(imported)]
    return [(name, weight, (name,) + tuple(n for n in names if n != name))
            for name, weight in zip(names, weights) if weight]


def balanced(imported):
    return imported.mode != SPLIT


def legs(cluster):
    """Every source of the cluster's weighted and failover imports with its egress gateway port: each (namespace,
    binding) starts at a port of LEG_PORTS its name's hash picks and takes the next free one, in the order of the
    names, so a leg keeps its port while the others come and go (unless two collide). A cluster has at most
    len(LEG_PORTS) legs (check_leg_count)."""
    keyed = sorted(((imported.namespace, binding_id(imported, source)), imported, source)
                   for imported in cluster.imports if balanced(imported) for source in imported.sources)
    taken = set()
    out = []
    for key, imported, source in keyed[:len(LEG_PORTS)]:
        digest = int(hashlib.sha256("/".join(key).encode("utf-8")).hexdigest(), 16)
        index = digest % len(LEG_PORTS)
        while LEG_PORTS[index] in taken:
            index = (index + 1) % len(LEG_PORTS)
        taken.add(LEG_PORTS[index])
        out.append(Leg(imported, source, LEG_PORTS[index]))
    return out


def check_leg_count(problems, cluster):
    count = sum(len(i.sources) for i in cluster.imports if balanced(i))
    if count > len(LEG_PORTS):
        problems.add(cluster.name, "meshfed_imports: %d sources of weighted and failover imports, more than the %d "
                                   "ports (%d-%d) the egress gateway has for them"
                     % (count, len(LEG_PORTS), LEG_PORTS[0], LEG_PORTS[-1]))
