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
      - The federation's description, C({clusters, settings}), usually read from the inventory with the
        P(meshfed.federation.federation_description#filter) filter.
    type: dict
    required: true
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
    - The validated federation, C({model}), the model the description was turned into, as data.
    - The cluster modules take it as their C(federation) option without validating it again. The C(federate.yml)
      playbook registers it and hands it to the gateway, export and import roles as C(meshfed_federation), so that
      the federation is read from the inventory and validated once per run.
    - Pass it on unchanged; to change the federation, change its description and validate again.
  returned: success
  type: dict
  sample: {"model": {"@type": "Federation", "@values": ["..."]}}
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
needs_address_discovery:
  description: Exporting clusters some peer imports from whose gateway address is C(discover).
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
from ansible_collections.meshfed.federation.plugins.module_utils.federation import run_federation_model


def main():
    run_federation_model(AnsibleModule(**FEDERATION_MODEL_MODULE))


if __name__ == "__main__":
    main()
