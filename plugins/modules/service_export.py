#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: service_export
short_description: Expose chosen services of one cluster to chosen peer clusters
version_added: 0.1.0
author: meshfed maintainers (@meshfed)
description:
  - Converges the export role of one cluster of a federation of Istio meshes, in one call for all its exports.
  - Per export it applies a Gateway on the private ingress gateway (port 15443, mutual TLS, one server selected by the
    SNI C(<export>.<identity>) whose C(subjectAltNames) lists only the consumers granted the export), a VirtualService
    with the path prefix match and the uri and authority rewrite to the local service and subset, and a
    DestinationRule for the local service visible only to the gateway namespace.
  - Per export an AuthorizationPolicy (ALLOW) lets each granted consumer's certificate principal in on its SNI, for
    http with the methods, paths and callers granted to it (the C(x-meshfed-caller) header its egress gateway sets,
    matched as C(spiffe://<trust domain>/ns/<namespace>/sa/<serviceaccount>) in the same rule), and a DENY keeps
    everything else out whatever other ALLOW policies say.
  - The http route sets C(x-meshfed-consumer) (the consumer gateway's verified certificate principal) and
    C(x-meshfed-consumer-sni) (the SNI it came in on) for the exported app, replacing any value a client sent.
  - A consumer's C(quota) (C(requests_per_second) for http, C(connections) for tcp and tls) becomes, per export, an
    EnvoyFilter on the private ingress gateway (Envoy's local rate limit filter, 429 past the quota, or its
    connection limit filter), per gateway replica; a consumer with C(state=drained) gets a DENY rule of its own in
    the export's DENY policy (403, new connections closed), keeping its grant and its callers.
  - A server for a peer party trusts that party's CA only. On Istio 1.28 or later (the federation's C(istio_version),
    by default read from istiod's Deployment in C(istio-system)) by C(caCertCredentialName) of a Secret holding
    that CA alone, the key staying in the cluster's one credential Secret; on older or unknown Istio by a
    C(credentialName) of its own (M(meshfed.federation.private_gateway) writes both kinds of Secrets).
  - Objects are labelled as owned by meshfed; objects of this role that meshfed owns and the federation no longer
    wants are deleted; objects meshfed does not own are never modified or deleted.
extends_documentation_fragment:
  - meshfed.federation.kubernetes_auth
  - meshfed.federation.federation
  - meshfed.federation.apply
  - meshfed.federation.attributes
  - meshfed.federation.attributes.actiongroup_meshfed
requirements:
  - kubernetes >= 24.2.0
  - PyYAML >= 3.11
"""

EXAMPLES = r"""
- name: Expose the exports of this cluster to their consumers
  meshfed.federation.service_export:
    federation: "{{ hostvars | meshfed.federation.federation_description(groups['meshfed_clusters'], inventory_hostname) }}"
    cluster: "{{ inventory_hostname }}"
    kubeconfig: "{{ meshfed_kubeconfig }}"
    context: "{{ meshfed_context }}"

- name: Remove every export of this cluster
  meshfed.federation.service_export:
    federation: "{{ meshfed_federation }}"
    cluster: cluster2
    context: cluster2
    state: absent
"""

RETURN = r"""
created:
  description: Objects created, as C(Kind namespace/name).
  returned: unless O(state=rendered) or O(preflight=true)
  type: list
  elements: str
  sample: ["Gateway istio-private-gateways/meshfed-export-reviews-v2"]
updated:
  description: Objects updated.
  returned: unless O(state=rendered) or O(preflight=true)
  type: list
  elements: str
deleted:
  description: Objects deleted because the federation no longer wants them.
  returned: unless O(state=rendered) or O(preflight=true)
  type: list
  elements: str
unchanged:
  description: Objects already as wanted.
  returned: unless O(state=rendered) or O(preflight=true)
  type: list
  elements: str
conflicts:
  description: Objects in the way that meshfed does not own (left untouched unless O(force=true)).
  returned: unless O(state=rendered)
  type: list
  elements: str
preflight:
  description: V(true) in the result of O(preflight=true), a failed one included.
  returned: when O(preflight=true)
  type: bool
changes:
  description: The writes the run would send (creates, updates, deletes, objects in the way it would adopt).
  returned: when O(preflight=true)
  type: int
blocked:
  description: Whether a run would stop before changing the cluster (RV(conflicts), or host conflicts without O(force=true)).
  returned: when O(preflight=true)
  type: bool
conflict_reasons:
  description: What blocks the run, worded as the failure of a run; empty when not blocked.
  returned: when O(preflight=true)
  type: str
objects:
  description: How many objects a run would want in the cluster.
  returned: when O(preflight=true)
  type: int
files:
  description: With O(render_dir), its C(directory) for this role, the file names C(written) and C(removed), and how many were C(unchanged).
  returned: when O(render_dir) is given
  type: dict
rendered:
  description:
    - With O(state=rendered), the objects a V(present) run would apply, as it would write them (ownership labels and
      the C(meshfed.io/spec-hash) annotation included, so a later run of meshfed finds them unchanged); no cluster is
      contacted.
  returned: when O(state=rendered)
  type: list
  elements: dict
summary:
  description:
    - The run in one line as the task output shows it, counts by kind and never a name (V(would create) in check mode).
    - With O(preflight=true), the preflight in one line, what is in the way counted by kind, and V(blocked) or V(clear).
  returned: success, unless O(state=rendered)
  type: str
  sample: "cluster2 export: 6 objects, created 1 (Gateway 1), updated 1 (VirtualService 1), deleted 0, unchanged 4 [0.4 s]"
api_requests:
  description: Number of API requests made, by verb.
  returned: unless O(state=rendered)
  type: dict
  sample: {"list": 3, "get": 0, "apply": 0, "create": 0, "delete": 0}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import SERVICE_EXPORT_MODULE
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.service_export import (
    run_service_export)


def main():
    run_service_export(AnsibleModule(**SERVICE_EXPORT_MODULE))


if __name__ == "__main__":
    main()
