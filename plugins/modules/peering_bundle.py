#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: peering_bundle
short_description: Write the signed peering bundle a party hands each peer party, or record the peers' bundles applied
version_added: 0.1.0
author: meshfed maintainers (@meshfed)
description:
  - Runs on the controller and contacts no cluster.
  - With O(state=issued), writes for each peer party in O(recipients) (default every C(meshfed_peers) entry) the file
    C(<dest>/<party>-for-<peer>.json) - a peering bundle. It carries no secret - this party's name and the peer's, an
    issue time and an expiry, this party's CA certificates, and each of this party's clusters that exports to the
    peer (its identity, its gateway address and, per export granted to the peer, its protocol, SNI host, port, path
    prefix and the peer's clusters granted with their methods and paths) or consumes from it (its identity). It is
    signed with O(signer_key_path), by default the party's CA key. The peer pins the signer certificate's
    fingerprint, RV(signer_fingerprint), which this party gives it out of band.
  - A bundle already there is kept while it was signed by the same signer, grants the same and is not within
    O(renewal_days) of its expiry; so a re-run changes nothing.
  - With O(state=recorded), writes in O(peer_state_dir) the peers' bundles this run verified and applied, C(<peer>.json).
    The next run's M(meshfed.federation.federation_model) reports what a peer's bundle changed since, and a peer
    trusted on first use stays pinned to the signer recorded.
extends_documentation_fragment:
  - meshfed.federation.attributes
  - meshfed.federation.peers
options:
  federation:
    description:
      - The validated federation M(meshfed.federation.federation_model) returned (or the description, validated here).
    type: dict
    required: true
  state:
    description:
      - V(issued) writes the bundles for the peers, V(recorded) records the peers' bundles.
    type: str
    choices: [issued, recorded]
    default: issued
  recipients:
    description:
      - The peer parties to write a bundle for; every peer of C(meshfed_peers) when empty.
    type: list
    elements: str
    default: []
  dest:
    description:
      - Directory the bundles are written to (mode C(0700) when created; bundles C(0644)). Required with O(state=issued).
    type: path
  signer_cert_path:
    description:
      - PEM certificate of the signing key, the party's CA certificate by default in the playbooks. Required with
        O(state=issued).
    type: path
  signer_key_path:
    description:
      - PEM private key that signs the bundles (read here, never written or returned). Required with O(state=issued).
    type: path
  ca_paths:
    description:
      - PEM files of the CA certificates the peer is to trust for this party's gateways, one or more certificates
        each (the playbooks give C(trusted-cas.pem) of the PKI directory, which holds both CAs during a CA
        rotation). Required with O(state=issued).
    type: list
    elements: path
    default: []
  validity_days:
    description:
      - Days a new bundle is valid.
    type: int
    default: 30
  renewal_days:
    description:
      - A bundle expiring within this many days is written again with new times.
    type: int
    default: 10
  peer_state_dir:
    description:
      - Directory of the records of the peers' bundles. Required with O(state=recorded).
    type: path
attributes:
  check_mode:
    support: full
    details: Reports which bundles would be written and writes none.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Write the bundle for org-a
  meshfed.federation.peering_bundle:
    federation: "{{ meshfed_validated.federation }}"
    recipients: [org-a]
    dest: "{{ inventory_dir }}/outgoing"
    signer_cert_path: ~/.meshfed/pki/org-b/ca.crt
    signer_key_path: ~/.meshfed/pki/org-b/ca.key
    ca_paths: [~/.meshfed/pki/org-b/ca.crt]
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
party:
  description: This inventory's party, the issuer of the bundles.
  returned: state=issued
  type: str
  sample: org-b
signer_fingerprint:
  description: The fingerprint of the signer certificate that the peers pin (C(signer_fingerprint) of their C(meshfed_peers) entry).
  returned: state=issued
  type: str
  sample: "sha256:4f0c...e1"
bundles:
  description: Per recipient, the bundle file, whether it was written and its expiry, and what changed in it.
  returned: state=issued
  type: dict
  sample: {"org-a": {"path": "inventories/org-b/outgoing/org-b-for-org-a.json", "changed": true,
                     "expires_at": "2027-01-01T03:00:00Z", "changes": ["cluster2: export reviews-v2 added"]}}
recorded:
  description: The peers whose record was written.
  returned: state=recorded
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import PEERING_BUNDLE_MODULE
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.peering_bundle import (
    run_peering_bundle)


def main():
    run_peering_bundle(AnsibleModule(**PEERING_BUNDLE_MODULE))


if __name__ == "__main__":
    main()
