# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Objects for the tests of the plan, the diffs, the hosts and the engine."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.meshfed.federation.plugins.module_utils.apply.plan import plan_changes, plan_summary, stamp
from ansible_collections.meshfed.federation.plugins.module_utils.kube.labels import owner_selector


OWNER = owner_selector("f", "export")

NS = "istio-private-gateways"


def vs(name, host="a.example.com", labels=None, namespace=NS):
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(OWNER if labels is None else labels)},
            "spec": {"hosts": [host], "http": [{"route": [{"destination": {"host": "x", "port": {"number": 80}}}]}]}}


def core(kind, name, namespace="n", api_version="v1", **fields):
    meta = {"name": name, "labels": dict(OWNER)}
    if namespace:
        meta["namespace"] = namespace
    return dict({"apiVersion": api_version, "kind": kind, "metadata": meta}, **fields)


def secret(name="cred", **fields):
    fields.setdefault("type", "Opaque")
    return core("Secret", name, **fields)


def applied(obj):
    """What the API server returns after we applied obj: our stamp plus server bookkeeping and defaults (in an
    object of its own, as a response is)."""
    live = copy.deepcopy(stamp(obj))
    meta = live["metadata"]
    meta.update(uid="u-" + meta["name"], resourceVersion="7", generation=1, creationTimestamp="2026-01-01T00:00:00Z",
                managedFields=[{"manager": "meshfed", "operation": "Apply"}])
    meta["labels"]["added-by-a-controller"] = "yes"
    meta["annotations"]["kubectl.kubernetes.io/other"] = "x"
    live["status"] = {"conditions": []}
    return live


def plan(desired, owned=(), names=(), **kwargs):
    return plan_changes(desired, [copy.deepcopy(o) for o in owned], [copy.deepcopy(o) for o in names], OWNER,
                        **kwargs)


def summary(desired, owned=(), names=(), **kwargs):
    return plan_summary(plan(desired, owned, names, **kwargs))
