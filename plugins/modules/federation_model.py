#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: federation_model
short_description: Validate a federation of Istio meshes as a whole, before any cluster is touched
version_added: 0.1.0
author: meshfed maintainers (@meshfed)
description:
  - Builds the federation model from the inventory's description and checks every rule at once; on failure C(msg)
    lists every problem, each naming the cluster, the inventory variable, the list item and the field (unknown
    peer, export not granted to the consumer, duplicate names, ports out of range, weights that do not add up to
    100, invalid DNS-1123 names, missing identity, unknown fields, ...).
  - Runs on the controller and contacts no cluster. The C(federate.yml) playbook runs it first, so bad input
    changes nothing anywhere.
extends_documentation_fragment:
  - meshfed.federation.attributes
options:
  federation:
    description:
      - The federation's description, C({clusters, settings, peers}), usually read from the inventory with the
        P(meshfed.federation.federation_description#filter) filter.
      - C(peers) lists the peer parties (C(meshfed_peers)), each C({name, bundle, signer_fingerprint,
        trust_on_first_use}); C(signer_fingerprint) is one SHA-256 fingerprint or a list of them (the old and the new
        signer while the peer rotates its CA). Their peering bundles are read here and verified (signature, pinned signer, issuer,
        recipient = this party, times, CA certificates), then checked against the inventory with the rest; a
        problem names the peer, the bundle field and the inventory item. A peer whose bundle file is not there yet
        is pending - what needs it (imports from it, exports granted to it) waits, listed in RV(waiting).
    type: dict
    required: true
  peer_state_dir:
    description:
      - Directory of the records of the peers' bundles that the last run applied
        (M(meshfed.federation.peering_bundle) with C(state=recorded)). A peer's bundle is compared with its
        record (RV(peer_changes)), a peer trusted on first use is pinned to the signer recorded, and an export a
        peer withdrew keeps the import that uses it left out (instead of refused) until the inventory drops it.
      - Defaults to the description's C(peer_state_dir) (C(meshfed_peer_state_dir), else
        C(~/.meshfed/peers/<federation name>)).
    type: path
attributes:
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Validate the federation
  meshfed.federation.federation_model:
    federation: "{{ hostvars | meshfed.federation.federation_description(groups['meshfed_clusters'], inventory_hostname) }}"
  run_once: true
  delegate_to: localhost
  register: meshfed_validated

- name: Converge the exports with the validated federation
  meshfed.federation.service_export:
    federation: "{{ meshfed_validated.federation }}"
    cluster: "{{ inventory_hostname }}"
"""

RETURN = r"""
federation:
  description:
    - The validated federation, C({model}), the model the description was turned into, as one JSON text.
    - One string rather than nested data, so that each task that takes it passes it on as it is instead of templating
      every value of the model.
    - The cluster modules take it as their C(federation) option without validating it again. The C(federate.yml)
      playbook registers it and hands it to the gateway, export and import roles as C(meshfed_federation), so that
      the federation is read from the inventory and validated once per run.
    - Pass it on unchanged; to change the federation, change its description and validate again.
  returned: success
  type: dict
  sample: {"model": "{\"@type\":\"Federation\",\"@values\":[...]}"}
federation_name:
  description: The federation's name (C(meshfed_federation_name), C(meshfed) when not set).
  returned: success
  type: str
  sample: bookinfo
clusters:
  description: Per cluster, its identity and what it exports (to whom) and imports (from whom).
  returned: success
  type: dict
  sample:
    cluster2:
      name: cluster2
      identity: c2.example.com
      gateway_address: {"address": "203.0.113.10", "port": 15443}
      exports: [{"name": "reviews-v2", "protocol": "http", "service": "bookinfo/myreviews:9080", "subset": "v2",
                 "consumers": ["cluster1"], "probe_path": null}]
      imports: []
peers:
  description: Per peer party, whether its bundle is C(verified) or C(pending), its signer's fingerprint, its expiry
    and the clusters it describes.
  returned: success
  type: dict
  sample: {"org-b": {"name": "org-b", "bundle": "verified", "signer_fingerprint": "sha256:4f0c...e1",
                     "expires_at": "2027-01-01T03:00:00Z",
                     "clusters": {"org-b/cluster2": {"identity": "c2.example.com",
                                                     "gateway_address": {"address": "203.0.113.10", "port": 15443},
                                                     "exports": ["reviews-v2"]}}}}
peer_changes:
  description: Per peer, what its bundle changed since the one recorded in O(peer_state_dir) (new or removed
    export, new CA, new address, ...); peers without a change are left out.
  returned: success
  type: dict
  sample: {"org-b": ["cluster2: export details removed", "cluster2: gateway address 203.0.113.10:15443 -> 203.0.113.11:15443"]}
peer_state_dir:
  description: The directory of the records of the peers' bundles that was read (null without peers).
  returned: success
  type: str
waiting:
  description: What waits for a pending peer's bundle, one sentence each (also given as warnings). Not named
    C(skipped), which Ansible reads as the task's own skipped flag.
  returned: success
  type: list
  elements: str
needs_address_discovery:
  description: Clusters of this inventory whose gateway address is C(discover) and must be known (some cluster
    imports from them, or a peer is granted one of their exports).
  returned: success
  type: list
  elements: str
errors:
  description: Every validation problem, one string each.
  returned: failure
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import FEDERATION_MODEL_MODULE
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.federation_model import (
    run_federation_model)


def main():
    run_federation_model(AnsibleModule(**FEDERATION_MODEL_MODULE))


if __name__ == "__main__":
    main()
