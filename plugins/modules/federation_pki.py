#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: federation_pki
short_description: Issue the federation's root CA and one gateway certificate per cluster, idempotently
version_added: 0.1.0
author: meshfed maintainers (@meshfed)
description:
  - Runs on the controller. Keeps, in O(path), a root CA (C(ca.crt), C(ca.key)) and, per cluster, the key and
    certificate of its private gateways (C(<cluster>.crt), C(<cluster>.key)), the layout the
    M(meshfed.federation.private_gateway) module reads.
  - Each gateway certificate has subject C(CN=<identity>), the SANs C(DNS:<identity>) and
    C(URI:spiffe://<identity>/meshfed-gateway), extended key usages serverAuth and clientAuth (a cluster both
    exports and consumes), C(basicConstraints CA:false), a random serial and a C(not_before) backdated 5 minutes.
  - Existing files are kept when they are valid and match the request. A key and certificate pair is regenerated,
    and the reasons are returned, when a file is missing or unreadable, the key does not match the certificate or
    is of another type, the subject or SANs differ from the identity, the certificate was not signed by the current
    CA (issuer name and signature checked), it is expired or not yet valid, it expires within the renewal window,
    or it lacks an extended key usage.
  - When the CA is regenerated, every gateway certificate is re-issued.
  - Keys are written with mode C(0600) from creation on, certificates C(0644), a created directory C(0700); every
    file is written atomically (temporary file in the same directory, fsync, rename). Key material is never
    returned or shown in a diff.
extends_documentation_fragment:
  - meshfed.federation.attributes
options:
  path:
    description:
      - Directory on the controller holding the CA and the gateway certificates; created (mode C(0700)) if missing.
    type: path
    required: true
  federation_name:
    description:
      - Name of the federation; the organization (C(O)) of a generated CA's subject.
    type: str
    required: true
  ca:
    description:
      - The root CA. Either generated and kept in O(path) (C(common_name), C(key_type), C(validity_days),
        C(renewal_days)), or supplied by the user (O(ca.cert_path) and O(ca.key_path)) and used as is.
      - A user-supplied CA must be a CA certificate (C(basicConstraints CA:true)), currently valid, with the matching
        key; its certificate is copied to C(<path>/ca.crt), its key stays where it is and is never modified.
    type: dict
    default: {}
    suboptions:
      common_name:
        description: Common name of a generated CA.
        type: str
        default: meshfed root CA
      key_type:
        description: Key type of a generated CA.
        type: str
        choices: [ecdsa-p256, rsa2048, rsa4096]
        default: ecdsa-p256
      validity_days:
        description: Validity of a generated CA, in days.
        type: int
        default: 3650
      renewal_days:
        description:
          - A generated CA expiring within this many days is regenerated (and every gateway certificate with it).
          - Must be smaller than O(ca.validity_days).
        type: int
        default: 90
      cert_path:
        description: PEM certificate of a user-supplied CA. Requires O(ca.key_path).
        type: path
      key_path:
        description: Unencrypted PEM private key of a user-supplied CA. Requires O(ca.cert_path).
        type: path
  clusters:
    description:
      - The clusters that get a gateway certificate.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Cluster name (the inventory host name); names the files C(<name>.crt) and C(<name>.key).
          - Letters, digits, C(.), C(_) and C(-); not C(ca).
        type: str
        required: true
      identity:
        description: DNS name of the cluster, its certificate's common name and SANs.
        type: str
        required: true
  key_type:
    description: Key type of the gateway certificates.
    type: str
    choices: [ecdsa-p256, rsa2048, rsa4096]
    default: ecdsa-p256
  validity_days:
    description: Validity of a new gateway certificate, in days.
    type: int
    default: 365
  renewal_days:
    description:
      - A gateway certificate expiring within this many days is regenerated. Must be smaller than O(validity_days).
    type: int
    default: 30
  force:
    description: Regenerate every gateway key and certificate, valid or not.
    type: bool
    default: false
  rotate_ca:
    description:
      - Replace the CA at once, hence every gateway certificate. Every link is cut until each cluster has its new
        certificate; for a compromised CA. O(ca_rotation_stage) rotates without breaking a link. Not possible with a
        user-supplied CA.
    type: bool
    default: false
  ca_rotation_stage:
    description:
      - Move a CA rotation in stages to this stage. Roll each stage out to every gateway (and peer) before asking for
        the next one; then no link breaks.
      - V(trust) makes the next CA and its gateway certificates in C(<path>/next/); C(trusted-cas.pem) holds both CAs.
      - V(issue) puts the next CA and its certificates in the place of the old ones, keeping the old CA certificate
        in C(<path>/previous/ca.crt), still trusted.
      - V(drop) removes C(<path>/previous/); C(trusted-cas.pem) holds the new CA only.
      - The stage is what the directory holds, so an interrupted rotation resumes where it stopped, and asking for
        the stage the directory is in changes nothing. Asking for a stage out of order (V(issue) without V(trust),
        V(drop) before V(issue), V(trust) during V(issue)) fails and changes nothing.
      - Without it, the stage the directory is in is kept. Not possible with a user-supplied CA or O(rotate_ca).
    type: str
    choices: [trust, issue, drop]
  ca_scope:
    description:
      - V(federation) keeps one CA in O(path) for every cluster.
      - V(cluster) keeps a CA per cluster, each in C(<path>/<cluster>/) with that cluster's certificate
        (C(ca.crt), C(ca.key), C(<cluster>.crt), C(<cluster>.key)), so that every cluster is a party of its own
        whose CA no other cluster's gateway trusts for anything but that cluster (C(meshfed_ca_scope)). Not
        possible with a user-supplied CA.
    type: str
    choices: [federation, cluster]
    default: federation
attributes:
  check_mode:
    details: Reports what would be (re)generated and why; writes nothing.
  diff_mode:
    details: Before and after certificate metadata (subject, issuer, SANs, serial, validity, fingerprint); never keys.
requirements:
  - cryptography >= 40.0
notes:
  - Certificates of clusters no longer listed are left in O(path).
"""

EXAMPLES = r"""
- name: Issue the federation's certificates
  meshfed.federation.federation_pki:
    path: ~/.meshfed/pki/bookinfo-demo
    federation_name: bookinfo-demo
    clusters:
      - name: cluster1
        identity: c1.example.com
      - name: cluster2
        identity: c2.example.com
  run_once: true
  delegate_to: localhost

- name: Sign the gateway certificates with an existing CA
  meshfed.federation.federation_pki:
    path: ~/.meshfed/pki/bookinfo-demo
    federation_name: bookinfo-demo
    ca:
      cert_path: /etc/pki/meshfed/ca.crt
      key_path: /etc/pki/meshfed/ca.key
    key_type: rsa2048
    clusters:
      - name: cluster1
        identity: c1.example.com

- name: Rotate the CA and every gateway certificate, first stage (roll it out before the next)
  meshfed.federation.federation_pki:
    path: ~/.meshfed/pki/bookinfo-demo
    federation_name: bookinfo-demo
    ca_rotation_stage: trust
    clusters:
      - name: cluster1
        identity: c1.example.com
"""

RETURN = r"""
cas:
  description: With O(ca_scope=cluster), per cluster name its CA, each as RV(ca) describes it.
  returned: success and O(ca_scope=cluster)
  type: dict
ca:
  description: The root CA (what it is after the run; in check mode, what it would be); null with O(ca_scope=cluster).
  returned: success
  type: dict
  contains:
    cert_path:
      description: The CA certificate, C(<path>/ca.crt).
      type: str
    key_path:
      description: Its key (C(<path>/ca.key), or O(ca.key_path) for a user-supplied CA).
      type: str
    user_supplied:
      description: Whether the CA was supplied by the user.
      type: bool
    subject:
      description: Subject of the CA certificate (RFC 4514).
      type: str
    serial:
      description: Serial number, hexadecimal; null in check mode when the CA would be regenerated.
      type: str
    not_after:
      description: End of validity, ISO 8601 (predicted in check mode).
      type: str
    days_left:
      description: Whole days until C(not_after).
      type: int
    fingerprint_sha256:
      description: SHA-256 fingerprint of the certificate; null in check mode when the CA would be regenerated.
      type: str
    reasons:
      description:
        - Why the CA was (or would be) regenerated or its copy rewritten; empty when kept.
        - Codes as for the gateway certificates, plus C(subject) (generated CA) and C(user_ca) (the copy differs from
          the user-supplied CA certificate).
      type: list
      elements: str
  sample:
    cert_path: /home/me/.meshfed/pki/demo/ca.crt
    key_path: /home/me/.meshfed/pki/demo/ca.key
    user_supplied: false
    subject: O=demo,CN=meshfed root CA
    serial: 3A0F...
    not_after: "2035-05-01T10:00:00+00:00"
    days_left: 3649
    fingerprint_sha256: "AB:CD:..."
    reasons: ["missing: no certificate and no key"]
clusters:
  description:
    - Per cluster name, its gateway certificate.
    - 'Each reason is C(<code>: <detail>), code one of C(missing), C(unreadable), C(key_mismatch), C(key_type),
      C(identity), C(issuer), C(not_yet_valid), C(expired), C(renewal), C(eku), C(profile), C(force),
      C(ca_regenerated).'
  returned: success
  type: dict
  sample:
    cluster1:
      identity: c1.example.com
      cert_path: /home/me/.meshfed/pki/demo/cluster1.crt
      key_path: /home/me/.meshfed/pki/demo/cluster1.key
      ca_path: /home/me/.meshfed/pki/demo/ca.crt
      serial: 5B1C...
      not_after: "2026-05-01T10:00:00+00:00"
      days_left: 364
      fingerprint_sha256: "12:34:..."
      reasons: []
rotation:
  description: The stage of a CA rotation the directory is in after the run (O(ca_rotation_stage)).
  returned: success
  type: dict
  contains:
    stage:
      description: C(none), C(trust) or C(issue); with O(ca_scope=cluster) C(mixed) when the clusters' CAs are not
        all in the same stage.
      type: str
    next:
      description: In stage C(trust), the next CA and its gateway certificates, as RV(ca) and RV(clusters) describe
        them.
      type: dict
      returned: stage trust
    previous:
      description: In stage C(issue), the old CA, still trusted (C(serial), C(not_after), C(days_left),
        C(fingerprint_sha256)).
      type: dict
      returned: stage issue
  sample: {"stage": "trust", "next": {"ca": {"fingerprint_sha256": "AB:CD:..."}, "clusters": {}}}
rotations:
  description: With O(ca_scope=cluster), per cluster name the RV(rotation) of its CA.
  returned: success and O(ca_scope=cluster)
  type: dict
trusted_cas_path:
  description: The file of the CA certificates the gateways trust, C(<path>/trusted-cas.pem) (both CAs during a
    rotation).
  returned: success and O(ca_scope=federation)
  type: str
permissions_fixed:
  description: Key files of kept keys whose mode was not C(0600) and was set to it.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import FEDERATION_PKI_MODULE
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.federation_pki import (
    run_federation_pki)


def main():
    run_federation_pki(AnsibleModule(**FEDERATION_PKI_MODULE))


if __name__ == "__main__":
    main()
