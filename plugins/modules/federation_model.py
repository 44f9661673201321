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
      - The whole federation, C({clusters, settings}), usually built with the
        P(meshfed.federation.federation_spec#filter) filter.
    type: dict
    required: true
attributes:
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Validate the federation
  meshfed.federation.federation_model:
    federation: "{{ hostvars | meshfed.federation.federation_spec(groups['meshfed_clusters'], inventory_hostname) }}"
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
    - The federation description that was validated, as given in O(federation).
    - The C(federate.yml) playbook registers it and hands it to the gateway, export and import roles as
      C(meshfed_federation_spec), so that they do not read the whole inventory again for every cluster and role.
  returned: success
  type: dict
  sample: {"clusters": {"cluster2": {"identity": "c2.example.com"}}, "settings": {"federation_name": "bookinfo"},
           "discovered_addresses": {}}
clusters:
  description: Per cluster, its identity and what it exports (to whom) and imports (from whom).
  returned: success
  type: dict
  sample:
    cluster2:
      identity: c2.example.com
      exports: [{"name": "reviews-v2", "service": "bookinfo/myreviews:9080", "subset": "v2", "consumers": ["cluster1"]}]
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
from ansible_collections.meshfed.federation.plugins.module_utils.federation_module import (
    FEDERATION_MODEL_MODULE, run_federation_model)


def main():
    run_federation_model(AnsibleModule(**FEDERATION_MODEL_MODULE))


if __name__ == "__main__":
    main()
