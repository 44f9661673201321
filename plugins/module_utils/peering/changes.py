# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a peer's new bundle body changes against the one before, one line each for a plan (issued_at and
expires_at aside: every new bundle moves them). The fields compared are the body's own (model/peers.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.meshfed.federation.plugins.module_utils.model.peers import (
    BODY_CLUSTER_FIELDS, BODY_CONSUMER_FIELDS, BODY_EXPORT_FIELDS, DEFAULT_TRUST_DOMAIN)
from ansible_collections.meshfed.federation.plugins.module_utils.peering.envelope import fingerprint, short_fingerprint
from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki


def _ca_label(pem):
    try:
        return short_fingerprint(fingerprint(pem))
    except (pki.PKIError, TypeError, ValueError):
        return "(unreadable certificate)"


def _gateway(address):
    if not isinstance(address, dict):
        return "none"
    host = address.get("address")
    if isinstance(host, str) and ":" in host:
        host = "[%s]" % host
    return "%s:%s" % (host, address.get("port"))


def _text(value):
    return "none" if value is None else str(value)


def _trust_domain_lines(old, new):
    """The trust domain of the peer's meshes, a body without one meaning cluster.local (its callers' SPIFFE IDs)."""
    before, after = (body.get("trust_domain") or DEFAULT_TRUST_DOMAIN for body in (old, new))
    return [] if before == after else ["trust domain %s -> %s" % (before, after)]


def _any(values):
    return "any" if values is None else ", ".join(str(value) for value in values)


def _by(items, key):
    return dict((item.get(key), item) for item in items or () if isinstance(item, dict))


def _keyed_changes(prefix, old_items, new_items, key, wording, compare):
    """Lines for the items added, removed and changed (``compare(prefix, old, new)``), matched by ``key``, sorted.
    ``wording`` is three templates (added, removed, prefix of a change) with ``{}`` for the item's key."""
    old, new = _by(old_items, key), _by(new_items, key)
    added, removed, changed = wording
    lines = []
    for name in sorted(set(old) | set(new), key=str):
        if name not in old:
            lines.append(prefix + added.format(name))
        elif name not in new:
            lines.append(prefix + removed.format(name))
        else:
            lines.extend(compare(prefix + changed.format(name), old[name], new[name]))
    return lines


def _field_changes(prefix, old, new, fields):
    """``"<prefix><label> <old> -> <new>"`` for each (field, label, render) that differs."""
    return ["%s%s %s -> %s" % (prefix, label, render(old.get(field)), render(new.get(field)))
            for field, label, render in fields if old.get(field) != new.get(field)]


def _quota(quota):
    """A consumer's quota as a bundle carries it (model/limits.quota_data), in words."""
    if not isinstance(quota, dict) or not quota:
        return "none"
    return ", ".join("%s %s" % (value, field.replace("_", " ")) for field, value in sorted(quota.items()))


def _state(state):
    return "active" if state is None else str(state)


LABELS = {"gateway_address": "gateway address"}
RENDERERS = {"methods": _any, "paths": _any, "callers": _any, "gateway_address": _gateway, "consumer": json.dumps,
             "quota": _quota, "state": _state}


def _compared(fields, key, items):
    """(field, label, render) of each field of a body's item but its key and its list of items."""
    return tuple((field, LABELS.get(field, field), RENDERERS.get(field, _text)) for field in fields
                 if field not in (key, items))


CONSUMER_FIELDS = _compared(BODY_CONSUMER_FIELDS, "cluster", None)
EXPORT_FIELDS = _compared(BODY_EXPORT_FIELDS, "name", "consumers")
CLUSTER_FIELDS = _compared(BODY_CLUSTER_FIELDS, "name", "exports")


def _consumer_changes(prefix, old, new):
    return _field_changes(prefix, old, new, CONSUMER_FIELDS)


def _export_changes(prefix, old, new):
    return (_field_changes(prefix, old, new, EXPORT_FIELDS)
            + _keyed_changes(prefix, old.get("consumers"), new.get("consumers"), "cluster",
                             ("consumer {} added", "consumer {} removed", "consumer {} "), _consumer_changes))


def _cluster_changes(prefix, old, new):
    return (_field_changes(prefix, old, new, CLUSTER_FIELDS)
            + _keyed_changes(prefix, old.get("exports"), new.get("exports"), "name",
                             ("export {} added", "export {} removed", "export {} "), _export_changes))


def _ca_lines(old_cas, new_cas):
    old, new = [_ca_label(pem) for pem in old_cas or ()], [_ca_label(pem) for pem in new_cas or ()]
    return (["CA %s added" % label for label in new if label not in old]
            + ["CA %s removed" % label for label in old if label not in new])


def changes(previous_body, body):
    """What ``body`` changes against ``previous_body``, the peer's bundle before, one line each for a plan
    (issued_at and expires_at are not reported: every new bundle moves them). [] when there is nothing before."""
    if previous_body is None:
        return []
    return (_ca_lines(previous_body.get("cas"), body.get("cas"))
            + _trust_domain_lines(previous_body, body)
            + _keyed_changes("", previous_body.get("clusters"), body.get("clusters"), "name",
                             ("{}: new cluster", "{}: cluster removed", "{}: "), _cluster_changes))
