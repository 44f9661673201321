# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Addresses for LoadBalancer Services, as a cloud gives them: one per Service from the cluster's pool
(netns.load_balancer_pool), written to status.loadBalancer.ingress and made an address of the cluster's
network namespace, where the Service's pods listen (the lab's Services forward port = targetPort only)."""

from __future__ import annotations


def wanted(services: list[dict]) -> dict[str, str | None]:
    """{namespace/name: address already in its status or None} for every LoadBalancer Service."""
    res = {}
    for svc in services:
        if (svc.get("spec") or {}).get("type") != "LoadBalancer":
            continue
        meta = svc["metadata"]
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        res[f"{meta['namespace']}/{meta['name']}"] = (ingress[0].get("ip") if ingress else None)
    return res


def assign(wanted_services: dict[str, str | None], pool: list[str]) -> dict[str, str]:
    """An address for every Service: the one it has if it is from the pool and not taken twice, else the
    first free one. Pure: returns {namespace/name: address}."""
    taken: dict[str, str] = {}
    for key in sorted(wanted_services):
        address = wanted_services[key]
        if address in pool and address not in taken.values():
            taken[key] = address
    free = [a for a in pool if a not in taken.values()]
    for key in sorted(wanted_services):
        if key not in taken and free:
            taken[key] = free.pop(0)
    return taken


def status_patch(address: str) -> dict:
    return {"status": {"loadBalancer": {"ingress": [{"ip": address, "ipMode": "VIP"}]}}}
