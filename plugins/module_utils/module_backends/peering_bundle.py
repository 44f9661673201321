# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The peering_bundle module's work: write the signed bundle this party hands each peer (state=issued), or record
the peers' bundles a run applied (state=recorded)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.meshfed.federation.plugins.module_utils.peering import envelope as bundle
from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki
from ansible_collections.meshfed.federation.plugins.module_utils.observe.discovery import GatewayAddressError, gateway_address_of
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.validated_model import load_federation
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import peer_of
from ansible_collections.meshfed.federation.plugins.module_utils.model.peers import bundle_body
from ansible_collections.meshfed.federation.plugins.module_utils.peering.changes import changes
from ansible_collections.meshfed.federation.plugins.module_utils.peering.records import record, same_grant

BUNDLE_MODE = 0o644


def bundle_file(dest, party, recipient):
    return os.path.join(dest, "%s-for-%s.json" % (party, recipient))


def exporting_clusters(federation, recipient):
    return sorted(c.name for c in federation.clusters.values()
                  if any(peer_of(g.consumer) == recipient for e in c.exports for g in e.grants))


def _read_text(module, path, what):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError) as error:
        module.fail_json(msg="cannot read the %s %s: %s" % (what, path, error.strerror))


def split_pem(text):
    """The certificates of a PEM file, one PEM text each (a file may hold several: trusted-cas.pem during a CA
    rotation holds both CAs)."""
    end = "-----END CERTIFICATE-----"
    return [part.strip() + "\n" + end + "\n" for part in text.split(end)[:-1] if part.strip()]


def _current(path, signer_fingerprint, now, renewal_days):
    """The body of the bundle already at ``path`` when it was signed by the same signer and is not due for
    renewal; None otherwise."""
    try:
        with open(path, "rb") as handle:
            body, signer = bundle.verify(bundle.load(handle.read()), pinned=signer_fingerprint, now=now)
    except (IOError, OSError, bundle.BundleError, pki.PKIError):
        return None
    expires = bundle.parse_time(body.get("expires_at"))
    if signer != signer_fingerprint or expires is None or expires - now <= datetime.timedelta(days=renewal_days):
        return None
    return body


def issue(module, federation):
    params = module.params
    party = federation.settings.party
    recipients = params["recipients"] or sorted(federation.peers)
    unknown = sorted(set(recipients) - set(federation.peers))
    if unknown:
        module.fail_json(msg="meshfed_bundle_for: %s %s not in meshfed_peers (peers: %s)"
                         % (", ".join(unknown), "is" if len(unknown) == 1 else "are",
                            ", ".join(sorted(federation.peers)) or "none"))
    if params["renewal_days"] >= params["validity_days"]:
        module.fail_json(msg="renewal_days (%d) must be smaller than validity_days (%d)"
                         % (params["renewal_days"], params["validity_days"]))
    signer_cert = _read_text(module, params["signer_cert_path"], "signer certificate")
    signer_key = _read_text(module, params["signer_key_path"], "signer key")
    cas = [pem for path in params["ca_paths"] for pem in split_pem(_read_text(module, path, "CA certificate").decode("utf-8"))]
    try:
        signer_fingerprint = bundle.fingerprint(signer_cert)
    except pki.PKIError as error:
        module.fail_json(msg="signer certificate %s: %s" % (params["signer_cert_path"], error))
    now = pki.utcnow()
    results = {}
    changed = False
    for recipient in recipients:
        addresses = {}
        for name in exporting_clusters(federation, recipient):
            try:
                addresses[name] = gateway_address_of(federation, name, params["peer_addresses"])
            except GatewayAddressError as error:
                module.fail_json(msg="bundle for %s: %s (the bundle carries where %s dials it)"
                                 % (recipient, error, recipient))
        body = bundle_body(federation, recipient, cas, addresses, *bundle.validity(now, params["validity_days"]))
        path = bundle_file(params["dest"], party, recipient)
        current = _current(path, signer_fingerprint, now, params["renewal_days"])
        if same_grant(current, body):
            results[recipient] = {"path": path, "changed": False, "expires_at": current["expires_at"]}
            continue
        changed = True
        results[recipient] = {"path": path, "changed": True, "expires_at": body["expires_at"],
                              "changes": changes(current, body) if current else []}
        if not module.check_mode:
            try:
                document = bundle.sign(body, signer_cert, signer_key)
            except bundle.BundleError as error:
                module.fail_json(msg="cannot sign the bundle for %s: %s" % (recipient, error))
            pki.ensure_dir(params["dest"])
            pki.write_atomic(path, bundle.dump(document).encode("utf-8"), BUNDLE_MODE)
    module.exit_json(changed=changed, party=party, signer_fingerprint=signer_fingerprint, bundles=results)


def run_peering_bundle(module):
    if not pki.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=str(pki.CRYPTOGRAPHY_IMPORT_ERROR))
    federation = load_federation(module)
    if module.params["state"] == "recorded":
        changed = record(module.params["peer_state_dir"], federation.peers, module.check_mode)
        module.exit_json(changed=bool(changed), recorded=changed)
    for option in ("dest", "signer_cert_path", "signer_key_path", "ca_paths"):
        if not module.params[option]:
            module.fail_json(msg="state=issued needs %s" % option)
    issue(module, federation)
