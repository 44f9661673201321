# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The private gateways of one cluster: an ingress gateway where it exports, an egress gateway where it
imports, both in the gateway namespace, deployed with Istio's gateway injection template."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.model.balance import legs
from ansible_collections.meshfed.federation.plugins.module_utils.model.istio_version import separates_ca
from ansible_collections.meshfed.federation.plugins.module_utils.kube.labels import owned_labels
from ansible_collections.meshfed.federation.plugins.module_utils.kube.mesh_settings import (
    EGRESS_PROXY_CONFIG, EXPORT_TO, PROXY_CONFIG)
from ansible_collections.meshfed.federation.plugins.module_utils.model.queries import (
    consumer_parties, peer_parties, source_parties)
from ansible_collections.meshfed.federation.plugins.module_utils.render import kube
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import (
    ca_secret_name, credential_secret_name, CROSS_CLUSTER_PORT_NAME, EGRESS, gateway_name, IN_MESH_PORT_NAME,
    INGRESS, leg_port_name)


def gateway_selector(direction):
    return {"istio": "private-%sgateway" % direction}


GATEWAY_NAMESPACE_LABEL = "meshfed.io/gateway-namespace"


def gateway_workload_selector(direction, settings):
    """What a Gateway of ours selects: our gateway's pods in our gateway namespace only. Istio applies a Gateway's
    selector to the gateway pods of every namespace (unless PILOT_SCOPE_GATEWAY_TO_NAMESPACE), so without the
    namespace label a second federation's gateways, in their own namespace, would get this one's servers."""
    return dict(gateway_selector(direction), **{GATEWAY_NAMESPACE_LABEL: settings.gateway_namespace})


def injection_labels(settings):
    """The pod labels that have Istio inject the gateway: ``istio.io/rev: <revision>`` selects a revisioned
    control plane (its webhook selects the pods with that label, and the default injector skips pods that
    carry it); without a revision, ``sidecar.istio.io/inject: "true"`` selects the default one."""
    if settings.istio_revision:
        return {"istio.io/rev": settings.istio_revision}
    return {"sidecar.istio.io/inject": "true"}


def gateway_pod_selector(direction):
    """The labels of a gateway's pods that never change: its Deployment's (immutable) selector and its Service's."""
    return dict(gateway_selector(direction), app=gateway_name(direction))


def gateway_pod_extra_labels(settings):
    """The labels of a gateway's pods that may change: the injection labels and the gateway namespace's."""
    return dict(injection_labels(settings), **{GATEWAY_NAMESPACE_LABEL: settings.gateway_namespace})


def gateway_pod_labels(direction, settings):
    """Every label a gateway's pods carry."""
    return dict(gateway_pod_selector(direction), **gateway_pod_extra_labels(settings))


def credential_mount_path(cluster, party=None):
    """Where a credential is mounted with cert_delivery=file (the blog's /etc/istio/<identity>/certs)."""
    if party is None or party == cluster.party:
        return "/etc/istio/%s/certs" % cluster.identity
    return "/etc/istio/%s/%s/certs" % (cluster.identity, party)


def credential_tls(cluster, settings, certificate_field, party=None, separate_ca=False):
    """Where a gateway's TLS settings find the cluster's credential trusting ``party``'s CA (default: its own): its
    Secret by credentialName (SDS), or the mounted files, the certificate under ``certificate_field``
    (serverCertificate for a server, clientCertificate for origination). With ``separate_ca`` (a server on Istio
    1.28 or later: istio_version.separates_ca) a peer party's CA comes from its own Secret by caCertCredentialName,
    the certificate and key from the cluster's one credential Secret."""
    if settings.cert_delivery == "sds":
        if separate_ca and party is not None and party != cluster.party:
            return {"credentialName": credential_secret_name(cluster), "caCertCredentialName": ca_secret_name(cluster, party)}
        return {"credentialName": credential_secret_name(cluster, party)}
    path = credential_mount_path(cluster, party)
    return {certificate_field: path + "/tls.crt", "privateKey": path + "/tls.key", "caCertificates": path + "/ca.crt"}


def party_ca(federation, party, credential):
    """The CA certificates a credential trusting ``party`` holds: the cluster's own (None), a peer party's from its
    bundle, or another cluster's of this inventory (a CA per cluster) as the PKI directory holds it."""
    if party is None:
        return credential["ca"]
    if party in federation.peers:
        return "".join(federation.peers[party].cas)
    return credential["party_cas"][party]


def credential_parties(federation, cluster):
    """The parties whose CA one cluster's gateways trust: its own, then each peer party it deals with."""
    return [None] + peer_parties(federation, cluster)


def key_parties(federation, cluster, separate_ca):
    """The parties with a Secret holding the cluster's private key and their CA: its own; each peer party whose
    gateways the egress dials (a DestinationRule has no caCertCredentialName, istio 1.31 included); and, unless
    the ingress servers take their CAs by caCertCredentialName, each consumer party of an export."""
    if not separate_ca:
        return credential_parties(federation, cluster)
    return [None] + source_parties(federation, cluster)


def ca_parties(federation, cluster, separate_ca):
    """The peer parties with a CA-only Secret (ca_secret_name): the consumer parties of the cluster's exports when
    its ingress servers take their CAs by caCertCredentialName."""
    return consumer_parties(federation, cluster) if separate_ca else []


def gateway_directions(cluster):
    directions = []
    if cluster.exports:
        directions.append(INGRESS)
    if cluster.imports:
        directions.append(EGRESS)
    return directions


def _listen_ports(direction, settings):
    """(Service port name, container port name, port) of what one gateway listens on."""
    if direction == INGRESS:
        return [(CROSS_CLUSTER_PORT_NAME, "tls-federation", settings.ingress_port)]
    return [(IN_MESH_PORT_NAME, IN_MESH_PORT_NAME, settings.egress_port)]


def _service_ports(direction, cluster, settings):
    """The gateway Service's ports: what it listens on and, for the egress gateway, the port of each leg of the
    weighted and failover imports (model/balance.py), which their sidecars dial at the Service's ClusterIP (and by
    which istiod binds a Gateway server's port). Not the container's: a new leg does not restart the pods."""
    ports = [(name, port) for name, dummy, port in _listen_ports(direction, settings)]
    if direction == EGRESS:
        ports.extend((leg_port_name(port), port) for port in sorted(leg.port for leg in legs(cluster)))
    return [kube.service_port(name, port, port) for name, port in ports]


def _gateway_container(direction, cluster, settings, parties):
    container = {
        "name": "istio-proxy",
        "image": settings.gateway_image,
        "ports": [{"name": container_name, "containerPort": port, "protocol": "TCP"}
                  for dummy, container_name, port in _listen_ports(direction, settings)],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
    }
    if settings.cert_delivery == "file":
        container["volumeMounts"] = [{"name": _volume_name(party), "mountPath": credential_mount_path(cluster, party),
                                      "readOnly": True} for party in parties]
    return container


def _volume_name(party):
    return "federation-credential" + ("-" + party if party else "")


def _gateway_service(direction, cluster, name, ns, labels, ports, selector, settings):
    """The gateway's Service: the ingress gateway's is the peers' way in, of ``ingress_service_type`` with the
    federation's annotations (the cloud's load balancer), source ranges and external traffic policy; the egress
    gateway's is ClusterIP, with none of them, exported to the importing namespaces (egress_service_export_to)."""
    if direction != INGRESS:
        return kube.service(name, ns, labels, ports, selector=selector, service_type="ClusterIP",
                            annotations={EXPORT_TO: egress_service_export_to(cluster, settings)})
    return kube.service(name, ns, labels, ports, selector=selector, service_type=settings.ingress_service_type,
                        annotations=settings.ingress_service_annotations,
                        load_balancer_source_ranges=settings.ingress_load_balancer_source_ranges,
                        external_traffic_policy=settings.ingress_external_traffic_policy)


def egress_service_export_to(cluster, settings):
    """The egress gateway Service's ``networking.istio.io/exportTo``: its own namespace and the importing ones, so
    that the importing sidecars see it whatever the mesh's ``defaultServiceExportTo`` (a Service hidden from them is
    no cluster in their config: 503), and no other namespace has it in its config."""
    namespaces = sorted(set(i.namespace for i in cluster.imports) - {settings.gateway_namespace})
    return ",".join(["."] + namespaces)


def render_gateway_workload(cluster, settings, federation_name, direction, parties=(None,)):
    """ServiceAccount, Role/RoleBinding, Deployment, Service, HPA and PDB of one private gateway.

    The egress gateway's pods carry ``proxy.istio.io/config`` with an empty ``gatewayTopology``: it replaces the
    mesh's (mesh_settings.py says why it is replaced, not merged), so a mesh-wide ``proxyProtocol`` does not make
    its listener wait for PROXY headers that sidecars never send. Its Service is exported to the importing
    namespaces (egress_service_export_to)."""
    ns = settings.gateway_namespace
    name = gateway_name(direction)
    labels = owned_labels(federation_name, "gateway")
    pod_labels = gateway_pod_selector(direction)
    pod_annotations = {"inject.istio.io/templates": "gateway"}
    if direction == EGRESS:
        pod_annotations[PROXY_CONFIG] = EGRESS_PROXY_CONFIG
    volumes = None
    if settings.cert_delivery == "file":
        volumes = [{"name": _volume_name(party), "secret": {"secretName": credential_secret_name(cluster, party)}}
                   for party in parties]
    ports = _service_ports(direction, cluster, settings)
    sds_role = "%s-sds" % name
    return [
        kube.service_account(name, ns, labels),
        kube.secret_reader_role(sds_role, ns, labels),
        kube.role_binding(sds_role, ns, labels, sds_role, name),
        kube.deployment(name, ns, labels, pod_labels, gateway_pod_extra_labels(settings), pod_annotations,
                        name, _gateway_container(direction, cluster, settings, parties), volumes),
        _gateway_service(direction, cluster, name, ns, labels, ports, pod_labels, settings),
        kube.horizontal_pod_autoscaler(name, ns, labels, name, settings.autoscale_min, settings.autoscale_max,
                                       settings.autoscale_cpu_percent),
        kube.pod_disruption_budget(name, ns, labels, pod_labels),
    ]


def render_gateways(federation, cluster_name, credential, istio_version=None):
    """Every object of the gateway role of one cluster.

    ``credential`` holds the PEM texts ``cert``, ``key`` and ``ca`` of the cluster's gateway certificate;
    it becomes the Secret both gateways read (credentialName or file mount) and, with the CAs of a peer party's
    bundle in place of ``ca``, one Secret per peer party (key_parties), or, for the consumer parties of the
    exports on Istio 1.28 or later (``istio_version``, (major, minor)), one Secret with that party's CA alone
    (ca_parties). Without it (None) the Secrets are left out, for objects rendered to be applied by other means.
    """
    settings = federation.settings
    cluster = federation.clusters[cluster_name]
    directions = gateway_directions(cluster)
    if not directions:
        return []
    labels = owned_labels(settings.federation_name, "gateway")
    objects = [kube.namespace(settings.gateway_namespace, labels)]
    separate_ca = separates_ca(istio_version, settings.cert_delivery)
    parties = key_parties(federation, cluster, separate_ca)
    if credential is not None:
        for party in parties:
            ca = party_ca(federation, party, credential)
            objects.append(kube.tls_secret(credential_secret_name(cluster, party), settings.gateway_namespace, labels,
                                           credential["cert"], credential["key"], ca))
        for party in ca_parties(federation, cluster, separate_ca):
            objects.append(kube.ca_secret(ca_secret_name(cluster, party), settings.gateway_namespace, labels,
                                          party_ca(federation, party, credential)))
    for direction in directions:
        objects.extend(render_gateway_workload(cluster, settings, settings.federation_name, direction, parties))
    return objects
