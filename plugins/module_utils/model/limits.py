# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A grant's quota and state: read from a ``consumers`` entry of the inventory or of a peer's bundle, checked, and
written back as data (a bundle's body, the summaries of federation_model and federation_info).

* ``quota``: ``{requests_per_second: N}`` for an http export, ``{connections: N}`` for a tcp or tls export; the
  exporter's ingress gateway enforces it, per replica (docs/design.md, "Quotas and drains").
* ``state``: ``active`` (the default) or ``drained``: the grant stays (its certificate still passes the handshake)
  but its requests are refused (403) and its new connections closed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.model.checks import check_unknown_keys
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import DRAINED, GRANT_STATES, Quota

# the field of a quota per protocol of the export
QUOTA_FIELDS = {"http": "requests_per_second", "tcp": "connections", "tls": "connections"}
# Envoy's token bucket and connection counter take 32-bit unsigned integers; the unlimited bucket of an http
# export's other consumers (render/export_limits.py) holds a million a second
QUOTA_MAX = 1000000
ACTIVE = GRANT_STATES[0]


def parse_quota(problems, where, raw, protocol):
    """The Quota of one consumers entry (None when it has none); a problem added for anything else."""
    if raw is None:
        return None
    field = QUOTA_FIELDS.get(protocol)
    if field is None:  # an unknown protocol is reported where it is read
        return None
    if not isinstance(raw, dict):
        problems.add(where, "quota must be a mapping: {%s: N} for a%s %s export"
                     % (field, "n" if protocol == "http" else "", protocol))
        return None
    check_unknown_keys(problems, where + ": quota", raw, (field,))
    value = raw.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= QUOTA_MAX:
        problems.add(where, "quota.%s %r must be an integer from 1 to %d" % (field, value, QUOTA_MAX))
        return None
    return Quota(value, None) if field == "requests_per_second" else Quota(None, value)


def parse_state(problems, where, raw):
    """A grant's state: 'active' when not given."""
    if raw is None:
        return ACTIVE
    if raw not in GRANT_STATES:
        problems.add(where, "state %r must be one of %s" % (raw, ", ".join(GRANT_STATES)))
        return ACTIVE
    return raw


def quota_data(quota):
    """A Quota as the inventory writes it (``{requests_per_second: N}`` or ``{connections: N}``), None for none."""
    if quota is None:
        return None
    return dict((k, v) for k, v in quota._asdict().items() if v is not None)


def limits_data(grant):
    """What a consumers entry of a bundle body carries besides cluster, methods and paths: only what is set, so a
    bundle without quotas or drains is the one earlier releases wrote (and read)."""
    data = {}
    if grant.quota is not None:
        data["quota"] = quota_data(grant.quota)
    if grant.state == DRAINED:
        data["state"] = DRAINED
    return data


def is_drained(grant):
    return grant.state == DRAINED


def check_shared_connection_quotas(problems, where, export):
    """A tcp or tls export's connection limit holds for one server (one consumer party), not for one consumer: all
    consumers of one party must carry the same ``quota.connections`` (or none), or a limit set for one would hold
    the others too."""
    if export.protocol == "http":
        return
    by_party = {}
    for index, grant in enumerate(export.grants):
        if grant.consumer is not None:
            by_party.setdefault(grant.party, []).append((index, grant))
    for party, grants in sorted(by_party.items(), key=lambda item: str(item[0])):
        limits = set(g.quota.connections if g.quota else None for dummy, g in grants)
        if len(limits) > 1:
            problems.add(where, "consumers %s share one server (party %s, a %s export): their quota.connections "
                         "must be equal, or all absent (got %s)"
                         % (", ".join("[%d] %s" % (i, g.consumer) for i, g in grants), party, export.protocol,
                            ", ".join("%s: %s" % (g.consumer, g.quota.connections if g.quota else "none")
                                      for dummy, g in grants)))
