# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Peering between parties: the peers' bundles read and verified for the model (``read_peers``), and the record of
the bundles last applied (``record``), which a later run compares with (what a peer changed) and pins a
trusted-on-first-use signer to. A body's shape is model/peers.py's."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.meshfed.federation.plugins.module_utils.peering import envelope as bundle
from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki
from ansible_collections.meshfed.federation.plugins.module_utils.model.checks import as_bool, DNS1123_LABEL
from ansible_collections.meshfed.federation.plugins.module_utils.peering.changes import changes as changes_of

PEER_FIELDS = ("name", "bundle", "document", "signer_fingerprint", "trust_on_first_use")
RECORD_MODE = 0o644


def record_path(state_dir, peer):
    return os.path.join(state_dir, "%s.json" % peer)


def read_record(state_dir, peer):
    """{signer, body, withdrawn} of the bundle of ``peer`` the last run applied (withdrawn: the exports some bundle
    granted and a later one took back), or None."""
    if not state_dir:
        return None
    try:
        with open(record_path(state_dir, peer)) as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError):
        return None


def _peer_problem(where, message):
    return "%s: %s" % (where, message)


def read_peers(raw_peers, party, state_dir=None, now=None):
    """(peers for build_model, problems, changes) of the inventory's meshfed_peers.

    A peer whose bundle file is not there yet is pending (its bundle None): what depends on it waits. ``changes``
    maps a peer to what its bundle changed since the one recorded in ``state_dir``."""
    peers, problems, changes = [], [], {}
    if raw_peers is None:
        return peers, problems, changes
    if not isinstance(raw_peers, list):
        return peers, ["meshfed_peers must be a list of {name, bundle, signer_fingerprint}"], changes
    for index, raw in enumerate(raw_peers):
        where = "meshfed_peers[%d]" % index
        if not isinstance(raw, dict):
            problems.append(_peer_problem(where, "must be a mapping with name, bundle and signer_fingerprint"))
            continue
        name = raw.get("name")
        if isinstance(name, str):
            where += " (%s)" % name
        for key in sorted(set(raw) - set(PEER_FIELDS)):
            problems.append(_peer_problem(where, "unknown field '%s' (allowed: %s)" % (key, ", ".join(PEER_FIELDS))))
        if not isinstance(name, str) or not DNS1123_LABEL.match(name) or len(name) > 63:
            problems.append(_peer_problem(where, "name %r is not a valid DNS-1123 label (the peer party's name)" % (name,)))
            continue
        recorded = read_record(state_dir, name)
        entry, problem = _read_peer(where, raw, party, recorded, now)
        if problem:
            problems.append(problem)
            # still a peer (without a bundle): what names it is not reported as naming an unknown peer
            peers.append({"name": name, "where": where, "bundle": None, "signer": None, "previous": None})
            continue
        peers.append(entry)
        if entry["bundle"] is not None and recorded:
            changes[name] = changes_of(recorded.get("body"), entry["bundle"])
    return peers, problems, changes


def _read_peer(where, raw, party, recorded, now):
    """({name, where, bundle, signer}, None) or (None, problem)."""
    name = raw["name"]
    entry = {"name": name, "where": where, "bundle": None, "signer": None,
             "previous": recorded.get("body") if recorded else None,
             "withdrawn": recorded.get("withdrawn") or [] if recorded else []}
    tofu = as_bool(raw.get("trust_on_first_use", False))
    if tofu is None:
        return None, _peer_problem(where, "trust_on_first_use %r must be true or false" % (raw["trust_on_first_use"],))
    path, document = raw.get("bundle"), raw.get("document")
    if path is not None and document is not None:
        return None, _peer_problem(where, "give the peer's bundle as a file (bundle) or as its content (document), "
                                          "not both")
    if document is not None:
        # the bundle's content itself, from an extra var or a survey (AWX): a mapping or its JSON/YAML text
        text = document if isinstance(document, str) else bundle.dump(document)
    elif path is None:
        return entry, None
    elif not isinstance(path, str) or not path:
        return None, _peer_problem(where, "bundle must be the path of the peer's bundle file")
    else:
        try:
            with open(os.path.expanduser(path), "rb") as handle:
                text = handle.read()
        except (IOError, OSError) as error:
            if not os.path.exists(os.path.expanduser(path)):
                return entry, None  # not handed yet: pending
            return None, _peer_problem(where, "bundle %s cannot be read: %s" % (path, error.strerror))
    pinned = raw.get("signer_fingerprint")
    if pinned is None and tofu and recorded:
        pinned = recorded.get("signer")  # trusted on first use: pinned from then on
    origin = ("peer %s (%s.document)" % (name, where) if document is not None
              else "peer %s (%s.bundle %s)" % (name, where, path))
    try:
        body, signer = bundle.verify(bundle.load(text), pinned=pinned, trust_on_first_use=tofu, recipient=party,
                                     issuer=name, now=now)
    except bundle.BundleError as error:
        return None, _peer_problem(origin, "bundle field %s: %s" % (error.field, error.message))
    except pki.PKIError as error:
        return None, _peer_problem(origin, str(error))
    entry.update(bundle=body, signer=signer)
    return entry, None


def same_grant(old_body, new_body):
    """Whether two bodies grant the same (their times aside)."""
    strip = ("issued_at", "expires_at")
    return (old_body is not None
            and dict((k, v) for k, v in old_body.items() if k not in strip)
            == dict((k, v) for k, v in new_body.items() if k not in strip))


def record(state_dir, peers, check_mode=False):
    """Write the record of each verified peer's bundle ({signer, body}); the names of the records changed."""
    changed = []
    for peer in peers.values():
        if peer.bundle is None:
            continue
        data = json.dumps({"signer": peer.signer, "body": peer.bundle, "withdrawn": list(peer.withdrawn)},
                          indent=2, sort_keys=True) + "\n"
        path = record_path(state_dir, peer.name)
        try:
            with open(path) as handle:
                if handle.read() == data:
                    continue
        except (IOError, OSError):
            pass
        changed.append(peer.name)
        if not check_mode:
            pki.ensure_dir(state_dir)
            pki.write_atomic(path, data.encode("utf-8"), RECORD_MODE)
    return changed
