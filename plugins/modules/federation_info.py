#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: federation_info
short_description: Report what one federated cluster exports to whom, imports from whom, and its gateways' health
version_added: 0.1.0
author: meshfed maintainers (@meshfed)
description:
  - Reads one cluster of a federation of Istio meshes and reports, next to what the inventory wants, what is
    applied there, whether the private gateways are ready, the address peers reach its ingress gateway at (the
    discovered C(status.loadBalancer) of the gateway Service), and when its gateway certificate expires.
  - Changes nothing. The private_gateway role uses it to discover gateway addresses; C(status.yml) prints it.
  - With O(probe=true) it also probes every link of the cluster, one per source of each of its imports, from
    where the module runs (the controller, or an AWX execution node). A probe is a TCP connection to the peer's
    private ingress gateway (the address consumers dial, configured or discovered), a TLS handshake with this cluster's
    certificate and the export's SNI C(<export>.<peer identity>), verification of the peer's certificate against
    the federation's CA and of the peer's identity in it, and, for an http export with a C(probe_path), one
    C(GET probe_path) request (with C(x-meshfed-caller) of the grant's first caller when the grant names callers,
    C(<namespace>/*) as the service account C(meshfed-link-probe)). Other links get the handshake and a short read (a TLS 1.3 server refuses a client
    certificate only after the handshake). Nothing is sent but that one request.
  - With O(query), a JMESPath expression over RV(cluster) picks what matters (RV(query_result)), for example
    C(links[?state!='ok']).
extends_documentation_fragment:
  - meshfed.federation.kubernetes_auth
  - meshfed.federation.credential
  - meshfed.federation.federation
  - meshfed.federation.peers
  - meshfed.federation.attributes
  - meshfed.federation.attributes.actiongroup_meshfed
options:
  probe:
    description:
      - Probe the links of the cluster's imports and report them as RV(cluster.links).
      - Needs O(credential). The probes do not need the cluster's API server, so they are reported even when it
        is unreachable.
      - The addresses of peers whose C(gateway_address) is C(discover) come from O(peer_addresses) (C(status.yml)
        reads them from each peer first); a link to a peer whose address is unknown is V(unreachable).
    type: bool
    default: false
  probe_timeout:
    description:
      - Seconds each step of a probe may take, each on its own, the TCP connection, the TLS handshake and the HTTP
        request; a probe takes at most three times as long. Links are probed up to eight at once.
    type: float
    default: 3.0
  probe_expiry_days:
    description:
      - A link that works but whose peer certificate has fewer days left than this is
        V(peer_certificate_expiring), which does not count as down.
    type: int
    default: 14
  query:
    description:
      - A JMESPath expression evaluated over RV(cluster); its value is returned as RV(query_result), next to the
        whole result.
      - For example C(links[?state!='ok']) (the links that are not ok), C(links[?state!='ok'].[import, peer,
        export, state, detail]), C(links[?handshake_ms > `50`].[import, peer, handshake_ms]),
        C(certificate.days_left).
      - Needs the C(jmespath) Python library on the controller.
    type: str
attributes:
  check_mode:
    details: The module only reads.
  diff_mode:
    support: none
requirements:
  - kubernetes >= 24.2.0
  - cryptography
  - jmespath >= 1.0 (for O(query))
"""

EXAMPLES = r"""
- name: Read the federation state of a cluster
  meshfed.federation.federation_info:
    federation: "{{ hostvars | meshfed.federation.federation_description(groups['meshfed_clusters'], inventory_hostname) }}"
    cluster: "{{ inventory_hostname }}"
    context: "{{ meshfed_context }}"
  register: state

- name: Fail when the gateway certificate expires within two weeks
  ansible.builtin.assert:
    that: state.cluster.certificate.days_left > 14

- name: Probe the links of a cluster and keep those that are down
  meshfed.federation.federation_info:
    federation: "{{ hostvars | meshfed.federation.federation_description(groups['meshfed_clusters'], inventory_hostname) }}"
    cluster: "{{ inventory_hostname }}"
    context: "{{ meshfed_context }}"
    probe: true
    credential:
      cert_path: ~/.meshfed/pki/demo/{{ inventory_hostname }}.crt
      key_path: ~/.meshfed/pki/demo/{{ inventory_hostname }}.key
      ca_path: ~/.meshfed/pki/demo/ca.crt
    query: "links[?down].[import, peer, export, state, detail]"
  register: links

- name: Fail when a link is down
  ansible.builtin.assert:
    that: links.cluster.links_down == 0
    fail_msg: "{{ links.query_result }}"
"""

RETURN = r"""
cluster:
  description: The state of the cluster.
  returned: always
  type: dict
  contains:
    name:
      description: Cluster name.
      type: str
      sample: cluster2
    identity:
      description: Federation identity of the cluster.
      type: str
      sample: c2.example.com
    reachable:
      description: Whether the API server answered.
      type: bool
    error:
      description: Why the cluster could not be read, naming it.
      type: str
      returned: when not reachable
    ingress_gateway:
      description: C(deployed), C(ready), C(replicas), C(available_replicas) of the private ingress gateway and
        C(address) (C({address, port}) peers reach it at, discovered or configured; null when unknown).
      type: dict
    egress_gateway:
      description: C(deployed), C(ready), C(replicas), C(available_replicas) of the private egress gateway.
      type: dict
    certificate:
      description: C(subject), C(issuer), C(serial), C(not_after) and C(days_left) of the gateway certificate in the
        cluster (never the key); null when the credential Secret is missing.
      type: dict
    exports:
      description:
        - Exports of the cluster with their consumers and whether their Gateway is applied.
        - C(limits) lists the consumers with a quota or drained, each C(consumer), C(state) (V(active) or V(drained))
          and C(quota) (C(requests_per_second) or C(connections), null for none).
      type: list
      elements: dict
    imports:
      description:
        - Imports of the cluster with their sources and weights and whether their VirtualService is applied.
        - C(mode) (V(split), V(weighted) or V(failover)), C(order) (the destinations, V(local) for the local copy,
          in failover order), C(weights) per destination.
        - C(serving) lists the destinations that take the import's traffic now and C(failing_over) says whether that
          is not what takes it when all are up; C(failing) the destinations down; C(health) each one's V(up),
          V(down) or V(unknown) (not probed). The local copy is up while its Service selects a Ready pod
          (C(local_ready), weighted and failover imports only), a source while its link probe passes; not what
          the sidecars' outlier detection sees.
      type: list
      elements: dict
    imports_failing_over:
      description: How many imports of the cluster are failing over now (C(imports[].failing_over)).
      type: int
      returned: always
    links:
      description:
        - One per source of each import of the cluster, in the inventory's order, with what its probe found.
      returned: when O(probe=true)
      type: list
      elements: dict
      contains:
        import:
          description: Local name of the import.
          type: str
          sample: details
        namespace:
          description: Namespace of the import.
          type: str
          sample: default
        peer:
          description: The exporting cluster.
          type: str
          sample: cluster2
        export:
          description: The peer's export.
          type: str
          sample: details
        protocol:
          description: Protocol of the export, V(http), V(tcp) or V(tls).
          type: str
          sample: http
        sni:
          description: The export host C(<export>.<peer identity>), sent as SNI (and as HTTP C(Host)).
          type: str
          sample: details.c2.example.com
        address:
          description: Address of the peer's private ingress gateway that was dialled; null when unknown.
          type: str
          sample: 172.31.2.100
        port:
          description: Its port; null when unknown.
          type: int
          sample: 15443
        state:
          description:
            - V(ok); V(unreachable) (no TCP connection, no TLS answer, or the peer's address is unknown);
              V(refused) (the peer's gateway rejected the handshake or reset the connection right after it, that
              is the export is not granted to this cluster, not applied there, or our certificate is not
              trusted); V(peer_certificate_wrong) (the peer's certificate is not from the federation's CA, has
              expired, or does not carry the peer's identity); V(peer_certificate_expiring) (works, but fewer than
              O(probe_expiry_days) days left); V(http_error) (the C(probe_path) request got a status outside
              2xx/3xx, or no answer); V(drained) (the exporter drained this cluster's grant, so the link is not
              probed; its new requests get 403 and its new connections are closed until the grant is active again).
          type: str
          choices: [ok, unreachable, refused, peer_certificate_wrong, peer_certificate_expiring, http_error, drained]
          sample: ok
        down:
          description: Whether the link is down, that is its state is none of V(ok), V(peer_certificate_expiring)
            and V(drained) (the one rule the playbooks, the roles and the report use).
          type: bool
          sample: false
        drained:
          description: Whether the exporter drained this cluster's grant of the export (C(state) in its grant).
          type: bool
          sample: false
        quota:
          description: The quota the exporter enforces on this cluster for the export, per replica of its ingress
            gateway, C(requests_per_second) (http) or C(connections) (tcp, tls); null for none.
          type: dict
          sample: {requests_per_second: 50}
        handshake_ms:
          description: Duration of the TLS handshake in milliseconds (the TCP connection not included); null when
            the handshake did not complete.
          type: float
          sample: 2.41
        http_status:
          description: Status of the C(probe_path) response; null without C(probe_path) or without a response.
          type: int
          sample: 200
        peer_identity:
          description: The peer certificate's DNS SAN (the peer's identity when it carries it); null when the
            handshake did not complete.
          type: str
          sample: c2.example.com
        peer_certificate_days_left:
          description: Days before the peer's certificate expires; null when the handshake did not complete.
          type: int
          sample: 364
        detail:
          description: What happened, in words.
          type: str
          sample: GET /details/0 answered 200
        probed_at:
          description: When the probe started, ISO 8601 in UTC.
          type: str
          sample: "2026-12-01T10:00:00Z"
    links_down:
      description: Number of links that are down (RV(cluster.links[].down)).
      returned: when O(probe=true)
      type: int
      sample: 0
query_result:
  description: The value of O(query) over RV(cluster); null when it selects nothing.
  returned: when O(query) is set
  type: raw
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import FEDERATION_INFO_MODULE
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.federation_info import (
    run_federation_info)


def main():
    run_federation_info(AnsibleModule(**FEDERATION_INFO_MODULE))


if __name__ == "__main__":
    main()
