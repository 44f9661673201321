# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where consumers reach a peer's private ingress gateway: the inventory's address, or the one its Service's load
balancer status gives (``meshfed_gateway_address: discover``).

The discovered address travels one way: the module that read it (private_gateway, federation_info) sets it as
the host fact DISCOVERED_ADDRESS_FACT, the discovered_gateway_addresses filter collects those facts, and the
modules that need peers' addresses (service_import, federation_info) take them as ``peer_addresses``. The
renderers take the resolved addresses (peer_addresses below) and never look anything up."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.meshfed.federation.plugins.module_utils.kube.kinds import kind_api_version
from ansible_collections.meshfed.federation.plugins.module_utils.model.checks import (
    local_address_kind, refused_local_address)
from ansible_collections.meshfed.federation.plugins.module_utils.model.queries import cluster_of
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import DISCOVER, GatewayAddress
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import (
    CROSS_CLUSTER_PORT_NAME, gateway_name, INGRESS)

DISCOVERED_ADDRESS_FACT = "meshfed_discovered_gateway_address"


class GatewayAddressError(Exception):
    """A peer's gateway address that consumers cannot dial: unknown, or local to the consumer."""


def ingress_address_from_service(service):
    """{address, port} where peers reach the private ingress gateway, from its Service's load balancer status;
    None until a load balancer has given it an address."""
    if not service:
        return None
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if not ingress:
        return None
    address = ingress[0].get("ip") or ingress[0].get("hostname")
    port = next((p["port"] for p in service["spec"].get("ports", []) if p.get("name") == CROSS_CLUSTER_PORT_NAME), None)
    return {"address": address, "port": port} if address and port else None


def ingress_service(gateway_namespace):
    return {"apiVersion": kind_api_version("Service", ""), "kind": "Service",
            "metadata": {"name": gateway_name(INGRESS), "namespace": gateway_namespace}}


def discovered_fact(address):
    return {"ansible_facts": {DISCOVERED_ADDRESS_FACT: address}}


def discover_ingress_address(client, gateway_namespace, timeout=0, check_mode=False):
    """The address of the private ingress gateway as its Service's status gives it, also as the host fact
    consumers read. A load balancer takes a while to give a new Service its address: wait up to ``timeout``
    seconds for it (one GET in check mode, where nothing was applied); None (fact cleared) if it has none."""
    deadline = time.time() + (0 if check_mode else timeout)
    while True:
        address = ingress_address_from_service(client.get(ingress_service(gateway_namespace)))
        if address or time.time() >= deadline:
            return dict(discovered_fact(address), ingress_gateway_address=address)
        time.sleep(1)


def gateway_address_of(federation, cluster_name, discovered):
    """The GatewayAddress consumers dial for one cluster (of this inventory or a peer's): the inventory's, else what
    discovery found (``discovered``: cluster name -> {address, port}); GatewayAddressError if unknown or refused."""
    configured = cluster_of(federation, cluster_name).gateway_address
    if configured != DISCOVER:
        return configured
    found = (discovered or {}).get(cluster_name)
    if not found:
        raise GatewayAddressError(
            "the private ingress gateway address of cluster '%s' is unknown: set meshfed_gateway_address for it, "
            "or make sure its Service %s has status.loadBalancer.ingress" % (cluster_name, gateway_name(INGRESS)))
    address = GatewayAddress(found["address"], int(found.get("port") or federation.settings.ingress_port))
    if local_address_kind(address.address) and not federation.settings.allow_local_gateway_addresses:
        raise GatewayAddressError(
            "the private ingress gateway address of cluster '%s' found by discovery (meshfed_gateway_address: "
            "discover, field address of its Service's status.loadBalancer.ingress): %s"
            % (cluster_name, refused_local_address(address.address)))
    return address


def source_clusters(cluster):
    return sorted(set(s.cluster for i in cluster.imports for s in i.sources))


def placeholder_address(settings):
    """What stands for a peer's address that is not known yet, in a preflight: it plans the imports before the run's
    gateways are up, so before discovery can find their addresses. What it looks for, names in the way and hosts in
    use, does not depend on an address, and nothing rendered with this one is ever written."""
    return GatewayAddress("address-unknown.invalid", settings.ingress_port)


def peer_addresses(federation, cluster_name, discovered, fallback=None):
    """Cluster name -> GatewayAddress, for every cluster the imports of ``cluster_name`` consume from (the module
    option of that value is ``peer_addresses``); with a
    ``fallback`` address, that one instead of the GatewayAddressError of an unknown or refused address."""
    addresses = {}
    for source in source_clusters(federation.clusters[cluster_name]):
        try:
            addresses[source] = gateway_address_of(federation, source, discovered)
        except GatewayAddressError:
            if fallback is None:
                raise
            addresses[source] = fallback
    return addresses
