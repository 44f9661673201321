# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a cluster's weighted and failover imports need from it (model.types.BalanceInputs): one GET of the egress
gateway's Service, for the ClusterIP their sidecars dial, and one LIST of the Services of each namespace with a local
copy, for their pod selectors and target ports (the ServiceEntry that makes the pods endpoints of the import's
cluster needs both; Istio's ServiceEntry takes a numeric targetPort only)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.kube.kinds import kind_api_version
from ansible_collections.meshfed.federation.plugins.module_utils.model.balance import balanced
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import EGRESS, gateway_name
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import BalanceInputs, LocalCopy

# what stands for the egress gateway's ClusterIP where nothing is read (state=rendered) or the Service is not there
# yet (a preflight before the gateway role's first run): TEST-NET-1 (RFC 5737), never routed
PLACEHOLDER_ADDRESS = "192.0.2.1"
# and for a local Service's selector where nothing is read (state=rendered): a label no pod carries
PLACEHOLDER_SELECTOR = {"meshfed.io/local-service-selector": "not-read"}


class LocalCopyError(Exception):
    """A local copy's Service that a weighted or failover import cannot use."""


def service_ref(namespace, name):
    return {"apiVersion": kind_api_version("Service", ""), "kind": "Service",
            "metadata": {"name": name, "namespace": namespace}}


def local_copy(service, imported, where):
    """The LocalCopy of one import from its local Service (a dict as the API gives it)."""
    if service is None:
        raise LocalCopyError("%s: local: Service %s/%s not found; a weighted or failover import needs the local "
                             "copy's Service (its selector picks the pods)" % (where, imported.namespace, imported.name))
    spec = service.get("spec") or {}
    if not spec.get("selector"):
        raise LocalCopyError("%s: local: Service %s/%s has no selector; a weighted or failover import takes the local "
                             "copy's pods by it" % (where, imported.namespace, imported.name))
    port = next((p for p in spec.get("ports") or [] if p.get("port") == imported.port), None)
    if port is None:
        raise LocalCopyError("%s: local: Service %s/%s has no port %s (its ports: %s)" % (
            where, imported.namespace, imported.name, imported.port,
            ", ".join(str(p.get("port")) for p in spec.get("ports") or []) or "none"))
    target = port.get("targetPort", imported.port)
    if not isinstance(target, int):
        raise LocalCopyError("%s: local: Service %s/%s port %s has targetPort %r, a name; a weighted or failover "
                             "import needs it as a number (an Istio ServiceEntry takes numbers only)"
                             % (where, imported.namespace, imported.name, imported.port, target))
    return LocalCopy(dict(spec["selector"]), target)


def egress_address(service):
    """The egress gateway Service's ClusterIP, or None (no Service yet, or a headless one)."""
    address = ((service or {}).get("spec") or {}).get("clusterIP")
    return address if address and address != "None" else None


def read_balance_inputs(client, federation, cluster_name, placeholders=False):
    """BalanceInputs of one cluster (None when it has no weighted or failover import). ``client`` None (nothing is
    read: state=rendered) gives placeholders: the egress address PLACEHOLDER_ADDRESS and, for each local copy,
    PLACEHOLDER_SELECTOR and no target port. ``placeholders`` (a preflight, which writes nothing) takes
    them where the cluster has nothing yet instead of failing."""
    cluster = federation.clusters[cluster_name]
    imports = [(i, n) for n, i in enumerate(cluster.imports) if balanced(i)]
    if not imports:
        return None
    settings = federation.settings
    if client is None:
        return BalanceInputs(PLACEHOLDER_ADDRESS, dict(((i.namespace, i.name), LocalCopy(PLACEHOLDER_SELECTOR, None))
                                                       for i, dummy in imports if i.local is not None))
    address = egress_address(client.get(service_ref(settings.gateway_namespace, gateway_name(EGRESS))))
    if address is None:
        if not placeholders:
            raise LocalCopyError("%s: the egress gateway Service %s/%s has no ClusterIP yet; the private_gateway role "
                                 "makes it" % (cluster_name, settings.gateway_namespace, gateway_name(EGRESS)))
        address = PLACEHOLDER_ADDRESS
    services = {}
    for namespace in sorted({i.namespace for i, dummy in imports if i.local is not None}):
        services.update(((namespace, (s.get("metadata") or {}).get("name")), s)
                        for s in client.list_namespace("v1", "Service", namespace))
    copies = {}
    for imported, index in imports:
        if imported.local is None:
            continue
        where = "%s: meshfed_imports[%d] (%s)" % (cluster_name, index, imported.name)
        copies[(imported.namespace, imported.name)] = local_copy(
            services.get((imported.namespace, imported.name)), imported, where)
    return BalanceInputs(address, copies)
