# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glue between a module and the apply engine: connect, read, plan, write (unless check mode), report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.meshfed.federation.plugins.module_utils.apply import (
    describe, plan_changes, plan_diffs, plan_summary)
from ansible_collections.meshfed.federation.plugins.module_utils.kube_client import (
    HAS_KUBERNETES, ClusterClient, ClusterError, read_live)
from ansible_collections.meshfed.federation.plugins.module_utils.render.labels import owner_selector

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
except ImportError:
    AUTH_ARG_SPEC = {}

APPLY_ARG_SPEC = dict(
    force=dict(type="bool", default=False),
    prune=dict(type="bool", default=True),
    wait=dict(type="bool", default=False),
    wait_timeout=dict(type="int", default=300),
)

# Kept in a namespace we created, these do not make it "someone else's".
NAMESPACE_DEFAULTS = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}
NAMESPACE_CONTENT_KINDS = [("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "ServiceAccount"), ("v1", "Service"),
                           ("apps/v1", "Deployment"), ("v1", "Pod")]


def auth_params(module):
    return {k: module.params[k] for k in AUTH_ARG_SPEC if module.params.get(k) is not None}


def run_apply(module, cluster, role, desired, kinds, federation_name, release_namespace=None):
    """Converge one role of one cluster to ``desired`` and exit the module with the result.

    ``release_namespace``: with state=absent, the namespace meshfed created for this role, deleted once
    nothing but what Kubernetes puts in every namespace is left in it.
    """
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"))
    labels = owner_selector(federation_name, role)
    params = module.params
    try:
        client = ClusterClient(cluster, auth_params(module))
        owned, existing = read_live(client, desired, kinds, labels)
        plan = plan_changes(desired, owned, existing, labels, {k for dummy, k in kinds},
                            force=params["force"], prune=params["prune"])
        result = dict(plan_summary(plan), cluster=cluster, role=role)
        if plan.conflict:
            module.fail_json(
                msg="cluster %s: %s in the way and not managed by meshfed; nothing was changed. Remove %s or set "
                    "force=true to adopt %s." % (cluster, ", ".join(result["conflicts"]),
                                                 "it" if len(plan.conflict) == 1 else "them",
                                                 "it" if len(plan.conflict) == 1 else "them"),
                api_requests=client.requests, **result)
        changes = plan.create + plan.update
        if not module.check_mode:
            for change in changes:
                client.apply(change.desired)
            for change in plan.delete:
                client.delete(change.live)
            if params["wait"]:
                client.wait_available([c.desired for c in plan.create + plan.update + plan.unchanged
                                       if c.desired["kind"] == "Deployment"], params["wait_timeout"])
        if release_namespace and params["state"] == "absent":
            result["namespace"] = release_namespace_if_empty(client, release_namespace, labels, module.check_mode)
        changed = bool(changes or plan.delete or result.get("namespace") == "deleted")
        if module._diff:
            result["diff"] = plan_diffs(plan)
        module.exit_json(changed=changed, api_requests=client.requests, **result)
    except ClusterError as error:
        module.fail_json(msg=str(error), cluster=cluster, role=role)


def release_namespace_if_empty(client, name, labels, check_mode):
    """'deleted', 'absent', 'kept: ...' (what else lives there) or 'not ours'."""
    probe = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    live = client.get(probe)
    if live is None:
        return "absent"
    present = (live.get("metadata") or {}).get("labels") or {}
    if any(present.get(k) != v for k, v in labels.items()):
        return "not ours"
    others = []
    for api_version, kind in NAMESPACE_CONTENT_KINDS:
        for item in client.list_namespace(api_version, kind, name):
            meta = item["metadata"]
            if (kind, meta["name"]) in NAMESPACE_DEFAULTS or meta.get("ownerReferences") or \
                    (meta.get("labels") or {}).get("app.kubernetes.io/managed-by") == labels["app.kubernetes.io/managed-by"]:
                continue
            others.append(describe(dict(item, kind=kind, apiVersion=api_version)))
    if others:
        return "kept: it holds objects meshfed does not own (%s)" % ", ".join(others)
    if not check_mode:
        live.setdefault("apiVersion", "v1")
        live.setdefault("kind", "Namespace")
        client.delete(live)
    return "deleted"
