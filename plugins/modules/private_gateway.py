#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: private_gateway
short_description: Deploy the private ingress and egress gateways of one federated cluster
version_added: 0.1.0
author: meshfed maintainers (@meshfed)
description:
  - Converges the gateway role of one cluster of a federation of Istio meshes.
  - A cluster that exports gets a private ingress gateway (label C(istio=private-ingressgateway), Service of type
    LoadBalancer on port 15443); a cluster that imports gets a private egress gateway (C(istio=private-egressgateway),
    ClusterIP, port 443). Both live in the gateway namespace (default C(istio-private-gateways)) and are deployed with
    Istio's gateway injection template, with a ServiceAccount, a HorizontalPodAutoscaler, a PodDisruptionBudget
    (C(maxUnavailable=1), so node drains are not blocked at one pod) and a Role reading the Secrets of the gateway
    namespace (istiod authorizes a gateway's C(credentialName) by C(list secrets) in its namespace, which a rule
    restricted to C(resourceNames) never grants).
  - The pods carry C(sidecar.istio.io/inject=true), or C(istio.io/rev=<revision>) when the federation's
    C(istio_revision) (C(meshfed_istio_revision)) is set, for a revisioned Istio install.
  - The ingress gateway's Service carries the federation's C(ingress_service_annotations)
    (C(meshfed_ingress_service_annotations), for the cloud's load balancer), C(ingress_load_balancer_source_ranges)
    (C(meshfed_ingress_load_balancer_source_ranges), as C(spec.loadBalancerSourceRanges), LoadBalancer only) and
    C(ingress_external_traffic_policy) (C(meshfed_ingress_external_traffic_policy), C(Cluster) or C(Local), as
    C(spec.externalTrafficPolicy)), when set; by default none of them.
  - The cluster's gateway certificate, key and the CA certificate become one C(kubernetes.io/tls) Secret read by the
    gateways through C(credentialName) (SDS), or mounted as files when the federation's C(cert_delivery) is C(file).
  - Across parties, each peer party's CAs go into a Secret of their own. On Istio 1.28 or later (C(istio_version),
    C(meshfed_istio_version), by default istiod's version read from its Deployment in C(istio-system)) a Secret
    C(<identity>-<party>-certs-cacert) with the CAs alone for the ingress servers (C(caCertCredentialName)), and
    C(<identity>-<party>-certs) with a copy of the key for each party the egress gateway dials; on older or
    unknown Istio C(<identity>-<party>-certs) for every peer party.
    The key is read from the controller's file system and never returned or shown in a diff.
  - Objects are labelled as owned by meshfed; objects of this role that meshfed owns and the federation no longer
    wants are deleted; objects meshfed does not own are never modified or deleted.
options:
  discover_address:
    description:
      - Once the gateways have converged, read the address of the private ingress gateway from its Service's
        C(status.loadBalancer).
      - Unset, the address is read when the federation needs it and leaves it to discovery, the rule of
        RV(meshfed.federation.federation_model#module:needs_address_discovery) (the cluster's C(gateway_address) is
        C(discover), and a cluster of this inventory imports from it or a peer party is granted one of its exports).
      - Returned as RV(ingress_gateway_address) and set as the host fact C(meshfed_discovered_gateway_address), which
        the P(meshfed.federation.discovered_gateway_addresses#filter) filter passes to the consumers' imports as
        O(meshfed.federation.service_import#module:peer_addresses).
      - With O(preflight=true), the address is read once, without waiting, so that the imports' preflight plans with
        the address a run would use.
      - Ignored with O(state=absent) and O(state=rendered).
    type: bool
  discover_timeout:
    description:
      - How long to wait, in seconds, for a load balancer to give the private ingress gateway's Service its
        address when O(discover_address=true) (a cloud load balancer takes seconds to minutes for a new Service).
      - C(0) reads the status once. In check mode the status is read once, as nothing was applied.
      - When no address came in time, RV(ingress_gateway_address) is null and the consumers' imports fail with a
        message naming this cluster.
    type: int
    default: 180
  render_secrets:
    description:
      - With O(state=rendered), include the Secret holding the gateway's certificate and private key (read from
        O(credential)) in RV(rendered). Register such a result only with C(no_log), and keep what is written from it
        private (C(playbooks/render.yml) writes it with mode 0600).
      - Without it, the Secret is left out and O(credential) is not needed with O(state=rendered).
    type: bool
    default: false
extends_documentation_fragment:
  - meshfed.federation.kubernetes_auth
  - meshfed.federation.credential
  - meshfed.federation.federation
  - meshfed.federation.apply
  - meshfed.federation.attributes
  - meshfed.federation.attributes.actiongroup_meshfed
requirements:
  - kubernetes >= 24.2.0
  - PyYAML >= 3.11
"""

EXAMPLES = r"""
- name: Deploy the private gateways of this cluster
  meshfed.federation.private_gateway:
    federation: "{{ hostvars | meshfed.federation.federation_description(groups['meshfed_clusters'], inventory_hostname) }}"
    cluster: "{{ inventory_hostname }}"
    credential:
      cert_path: ~/.meshfed/pki/demo/cluster2.crt
      key_path: ~/.meshfed/pki/demo/cluster2.key
      ca_path: ~/.meshfed/pki/demo/ca.crt
    kubeconfig: "{{ meshfed_kubeconfig }}"
    context: "{{ meshfed_context }}"
    wait: true
    discover_address: true
"""

RETURN = r"""
created:
  description: Objects created, as C(Kind namespace/name).
  returned: unless O(state=rendered) or O(preflight=true)
  type: list
  elements: str
  sample: ["Deployment istio-private-gateways/istio-private-ingressgateway"]
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
      contacted. The Secret with the gateway certificate is left out unless O(render_secrets=true).
  returned: when O(state=rendered)
  type: list
  elements: dict
summary:
  description:
    - The run in one line as the task output shows it, counts by kind and never a name (V(would create) in check mode).
    - With O(preflight=true), the preflight in one line, what is in the way counted by kind, and V(blocked) or V(clear).
  returned: success, unless O(state=rendered)
  type: str
  sample: "cluster1 gateway: 9 objects, created 0, updated 1 (Secret 1), deleted 0, unchanged 8 [0.6 s]"
api_requests:
  description: Number of API requests made, by verb.
  returned: unless O(state=rendered)
  type: dict
  sample: {"list": 3, "get": 0, "apply": 0, "create": 0, "delete": 0}
namespace:
  description:
    - What became of the gateway namespace; V(deleted) only when this federation created it and nothing else lives
      in it.
    - V(absent), V(deleted), V(not ours) (created by someone else, another federation included), or V(kept) with
      the objects that still live in it.
  returned: when O(state=absent)
  type: str
  sample: deleted
ingress_gateway_address:
  description:
    - Where peers reach the private ingress gateway, from its Service's load balancer status; V(null) until a load
      balancer has given it an address.
  returned: when the address is read (O(discover_address)) and O(state=present)
  type: dict
  sample: {"address": "203.0.113.10", "port": 15443}
  contains:
    address:
      description: IP address or host name of the load balancer.
      type: str
      sample: 203.0.113.10
    port:
      description: Port of the gateway Service that carries cross-cluster mutual TLS.
      type: int
      sample: 15443
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import PRIVATE_GATEWAY_MODULE
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.private_gateway import (
    run_private_gateway)


def main():
    run_private_gateway(AnsibleModule(**PRIVATE_GATEWAY_MODULE))


if __name__ == "__main__":
    main()
