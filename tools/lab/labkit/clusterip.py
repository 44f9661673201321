# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service ClusterIPs that carry traffic, for the Services of the lab's gateways, as kube-proxy's do.

A Service that selects at least one pod the lab runs as a gateway (a router) gets its spec.clusterIP as a /32 of
the cluster's network namespace, on ``lo`` like the pod addresses. The gateways' Envoys bind their listeners on
0.0.0.0 with SO_REUSEPORT, so a connection to ClusterIP:port reaches the listener of one replica, as kube-proxy
would send it to one of the Service's endpoints; but only where the Service's port equals its targetPort (no
translation happens), and whatever else listens on 0.0.0.0 at that port in the namespace may answer too (the
namespace is shared by all the cluster's proxies). ClusterIPs of other Services carry nothing.
"""

from __future__ import annotations

import ipaddress

from labkit.clusters import POD_CIDR, SERVICE_CIDR
from labkit.common import LabError
from labkit.netns import HUB_NET

SERVICE_NET = ipaddress.ip_network(SERVICE_CIDR)


def check_ranges() -> None:
    """A ClusterIP must never be a pod's or a load balancer's address: the controller removes from ``lo`` every
    address of the Service range that no gateway Service holds."""
    for name, net in (("pod", POD_CIDR), ("hub", str(HUB_NET)), ("loopback", "127.0.0.0/8")):
        if SERVICE_NET.overlaps(ipaddress.ip_network(net)):
            raise LabError(f"the Service range {SERVICE_NET} overlaps the {name} range {net}")


def selects(selector: dict, labels: dict) -> bool:
    """A Service's selector selects a pod of its namespace with these labels (an empty selector selects none)."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def wanted(services: list[dict], routers: list[tuple[str, dict]]) -> set[str]:
    """The ClusterIPs of the Services that select at least one of ``routers`` ((namespace, pod labels))."""
    res = set()
    for svc in services:
        spec = svc.get("spec") or {}
        address = spec.get("clusterIP")
        if not address or address == "None":
            continue
        namespace = svc["metadata"]["namespace"]
        if any(ns == namespace and selects(spec.get("selector") or {}, labels) for ns, labels in routers):
            res.add(address)
    return res


def held(addresses: set[str]) -> set[str]:
    """The addresses of a namespace's ``lo`` that are ClusterIPs."""
    return {a for a in addresses if ipaddress.ip_address(a) in SERVICE_NET}
