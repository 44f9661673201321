#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: service_import
short_description: Consume peers' exported services under local names
version_added: 0.1.0
author: meshfed maintainers (@meshfed)
description:
  - Converges the import role of one cluster of a federation of Istio meshes, in one call for all its imports.
  - Per peer it applies a ServiceEntry for the peer's private ingress gateway and a DestinationRule that originates
    mutual TLS with this cluster's certificate, the export's SNI and the peer's identity pinned in C(subjectAltNames).
  - That DestinationRule sets TCP keepalive on the connections to the peer (C(connectionPool.tcp.tcpKeepalive), by
    default a probe after 45 s of idleness, then every 15 s, 3 probes), so that load balancers and NAT gateways keep
    long-lived idle connections; the federation's C(peer_tcp_keepalive) (C(meshfed_peer_tcp_keepalive)) changes it,
    or turns it off with C(false).
  - Per binding (local name, peer, export) it applies a Gateway server and a VirtualService on the private egress
    gateway, a subset of the egress gateway's DestinationRule (Istio mutual TLS, the binding's SNI; for http imports
    the client's HTTP version is kept, so h2 and gRPC stay h2), and an AuthorizationPolicy (C(security.istio.io)) that
    lets only the importing namespace's workloads open connections with the binding's SNI.
  - For a tcp or tls import the binding's server is TLS with a tcp route. For an http import it is HTTPS (an HTTP hop),
    its route rewrites the authority to the export's host, sets C(x-meshfed-caller) to the calling workload's SPIFFE
    ID from its sidecar's certificate (a value the client sent is overwritten) and removes C(x-forwarded-for),
    C(x-forwarded-client-cert) and C(x-envoy-external-address); a workload of another namespace gets 403.
  - It warns when a source grants the import only callers of which none is in the import's namespace.
  - The egress gateway's DestinationRule is exported to the importing namespaces only.
  - In the consumer's namespace it applies the local alias, a Service for DNS (unless a local copy exists) and a
    VirtualService with the weighted split between the local copy and the peers, timeout and retries.
  - Before changing anything it lists the VirtualServices and DestinationRules of the importing namespaces and
    reports those meshfed does not own that use a host of an import (RV(host_conflicts)); they stop the run unless
    O(force=true).
  - Objects are labelled as owned by meshfed; objects of this role that meshfed owns and the federation no longer
    wants are deleted; objects meshfed does not own are never modified or deleted.
extends_documentation_fragment:
  - meshfed.federation.kubernetes_auth
  - meshfed.federation.federation
  - meshfed.federation.peers
  - meshfed.federation.apply
  - meshfed.federation.attributes
  - meshfed.federation.attributes.actiongroup_meshfed
requirements:
  - kubernetes >= 24.2.0
  - PyYAML >= 3.11
"""

EXAMPLES = r"""
- name: Consume the imports of this cluster
  meshfed.federation.service_import:
    federation: "{{ hostvars | meshfed.federation.federation_description(groups['meshfed_clusters'], inventory_hostname) }}"
    cluster: "{{ inventory_hostname }}"
    peer_addresses:
      cluster2: {address: 203.0.113.10, port: 15443}
    kubeconfig: "{{ meshfed_kubeconfig }}"
    context: "{{ meshfed_context }}"
"""

RETURN = r"""
created:
  description: Objects created, as C(Kind namespace/name).
  returned: unless O(state=rendered) or O(preflight=true)
  type: list
  elements: str
  sample: ["VirtualService default/reviews"]
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
host_conflicts:
  description:
    - Objects meshfed does not own that use a host of an import, checked in every importing namespace before anything
      is changed; each stops the run unless O(force=true), and is never modified either way.
    - A VirtualService for the local name (a short name or the FQDN) in the import's namespace or exported to it,
      unless bound to gateways only; a DestinationRule for exactly the local name in the import's
      namespace when the import has no local copy or a local subset; a DestinationRule in an importing namespace whose
      host is or covers the egress gateway's (C(*.local), say), which sidecars there would take instead of the egress
      rule.
  returned: with O(state=present)
  type: list
  elements: dict
  contains:
    namespace:
      description: Namespace of the object.
      type: str
    kind:
      description: C(VirtualService) or C(DestinationRule).
      type: str
    name:
      description: Name of the object.
      type: str
    host:
      description: The object's host that matches, as written in it.
      type: str
    import_host:
      description: The host of the import it matches (the local name's or the egress gateway's FQDN).
      type: str
    imports:
      description: The imports concerned, as C(namespace/name).
      type: list
      elements: str
    reason:
      description: What Istio would do with both.
      type: str
  sample: [{"namespace": "default", "kind": "DestinationRule", "name": "details", "host": "details",
            "import_host": "details.default.svc.cluster.local", "imports": ["default/details"],
            "reason": "the name now stands for the import (...)"}]
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
  sample: "cluster1 import: 14 objects, created 3 (VirtualService 2, AuthorizationPolicy 1), updated 0, deleted 0, unchanged 11 [0.4 s]"
api_requests:
  description: Number of API requests made, by verb.
  returned: unless O(state=rendered)
  type: dict
  sample: {"list": 3, "get": 0, "apply": 0, "create": 0, "delete": 0}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import SERVICE_IMPORT_MODULE
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.service_import import (
    run_service_import)


def main():
    run_service_import(AnsibleModule(**SERVICE_IMPORT_MODULE))


if __name__ == "__main__":
    main()
