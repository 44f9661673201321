# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glue between a module and the apply engine: connect, read, plan, write (unless check mode), report.

``run_private_gateway``, ``run_service_export`` and ``run_service_import`` are the whole of those modules: they
take a module-like object (params, check_mode, _diff, fail_json, exit_json), so the module and its action plugin,
which runs the same code in the controller's worker process, share every line."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import functools
import time
from collections import namedtuple

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.meshfed.federation.plugins.module_utils.apply import (
    DuplicateObjectError, describe, describe_host_conflict, host_conflict_report, plan_changes, plan_diffs,
    plan_summary, write_waves, writes)
from ansible_collections.meshfed.federation.plugins.module_utils.federation_module import (
    CORE_KINDS, CREDENTIAL_ARG_SPEC, DISCOVERED_ADDRESS_FACT, argument_spec, kind_api_version, load_federation, role_kinds)
from ansible_collections.meshfed.federation.plugins.module_utils.kube_client import (
    HAS_KUBERNETES, ClusterClient, ClusterError, claim_places, read_live)
from ansible_collections.meshfed.federation.plugins.module_utils.progress import progress_line
from ansible_collections.meshfed.federation.plugins.module_utils.render.labels import (
    FEDERATION, MANAGED_BY, owner_selector)
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import (
    INGRESS, gateway_name, ingress_address_from_service, render_gateways)
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_export import render_exports
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_import import (
    PeerAddressError, host_claims, render_imports)

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

DISCOVER_ARG_SPEC = dict(discover_address=dict(type="bool", default=False),
                         discover_timeout=dict(type="int", default=180))

PEER_ARG_SPEC = dict(peer_addresses=dict(type="dict", default={}))

# argument_spec and the other AnsibleModule keywords of each module
PRIVATE_GATEWAY_MODULE = dict(argument_spec=argument_spec(AUTH_ARG_SPEC, APPLY_ARG_SPEC, CREDENTIAL_ARG_SPEC,
                                                          DISCOVER_ARG_SPEC),
                              required_if=[("state", "present", ["credential"])], supports_check_mode=True)
SERVICE_EXPORT_MODULE = dict(argument_spec=argument_spec(AUTH_ARG_SPEC, APPLY_ARG_SPEC), supports_check_mode=True)
SERVICE_IMPORT_MODULE = dict(argument_spec=argument_spec(AUTH_ARG_SPEC, APPLY_ARG_SPEC, PEER_ARG_SPEC),
                             supports_check_mode=True)

# Requests in flight at once per cluster, for the LISTs of the plan and the writes of one wave (kubectl apply
# sends one at a time).
WRITE_CONCURRENCY = 8

# Never pruned: deleting a Namespace deletes whatever else lives in it (see release_namespace_if_empty).
UNPRUNABLE_KINDS = {"Namespace"}

# Kept in a namespace we created, these do not make it "someone else's": what Kubernetes puts in every namespace,
# and what istiod's namespace controller writes into every namespace it serves (its root certificate and CRL).
NAMESPACE_DEFAULTS = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default"),
                      ("ConfigMap", "istio-ca-root-cert"), ("ConfigMap", "istio-ca-crl")}
NAMESPACE_CONTENT_KINDS = [("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "ServiceAccount"), ("v1", "Service"),
                           ("apps/v1", "Deployment"), ("v1", "Pod")]


# Host claims of a role (apply.HostClaim), the (apiVersion, kind, namespace) to LIST for them, and the cluster
# domain that completes short host names.
HostCheck = namedtuple("HostCheck", "claims places cluster_domain")
NO_HOST_CHECK = HostCheck((), (), "cluster.local")


def auth_params(module):
    return dict((k, module.params[k]) for k in AUTH_ARG_SPEC if module.params.get(k) is not None)


def conflict_message(cluster, conflicts, host_conflicts=()):
    """Why nothing was changed: objects in the way of our names, then objects of someone else for our hosts."""
    parts = []
    if conflicts:
        names = ", ".join(describe(c.desired) for c in conflicts)
        if len(conflicts) == 1:
            parts.append("%s exists and is not managed by meshfed; remove it or set force=true to adopt it." % names)
        else:
            parts.append("%s exist and are not managed by meshfed; remove them or set force=true to adopt them."
                         % names)
    if host_conflicts:
        parts.append(host_conflict_message(host_conflicts))
    return "cluster %s: %s Nothing was changed." % (cluster, " ".join(parts))


def host_conflict_message(host_conflicts):
    return ("Objects not managed by meshfed use hosts of its imports: %s. Delete them, narrow their hosts or exportTo, "
            "or import under another local name; force=true applies anyway and leaves them as they are."
            % "; ".join(describe_host_conflict(c) for c in host_conflicts))


def federation_of(desired):
    for obj in desired:
        name = ((obj.get("metadata") or {}).get("labels") or {}).get(FEDERATION)
        if name:
            return name
    return None


def converge(client, plan, check_mode):
    """Send the plan's writes (none in check mode); returns the Deployments that were applied.

    Updates force server-side apply conflicts: the object is ours (or adopted with force=true), so a field
    someone changed with kubectl edit/patch is taken back instead of failing with 409. Creates do not force:
    an object that appeared since the plan read the cluster is not silently taken over.

    Each wave of write_waves goes out WRITE_CONCURRENCY requests at a time; a failure stops before the next
    wave and is raised once the wave's other requests are answered (a re-run sends what is left)."""
    applied_deployments = []
    if check_mode:
        return applied_deployments
    for wave in write_waves(plan):
        for change in wave:  # discovery once, before the threads share the client
            obj = change.desired or change.live
            client.resource(obj["apiVersion"], obj["kind"])
        client.map_concurrently(lambda change: send_write(client, change), wave, WRITE_CONCURRENCY)
        applied_deployments.extend(c.desired for c in wave if c.desired and c.desired["kind"] == "Deployment")
    return applied_deployments


def send_write(client, change):
    if change.desired is None:
        client.delete(change.live)
    else:
        client.apply(change.desired, force_conflicts=change.live is not None)


def is_blocked(plan, force):
    """Objects in the way of our names always stop the run (force adopted them otherwise); objects for our
    hosts do unless forced."""
    return bool(plan.conflict or (plan.host_conflict and not force))


def apply_role(client, role, desired, kinds, federation_name, params, check_mode, host_check=NO_HOST_CHECK):
    """Read, plan and (unless check mode or conflicts) write one role of one cluster: (plan, result)."""
    labels = owner_selector(federation_name, role)
    owned, in_the_way, hosted = read_live(client, desired, kinds, labels, concurrency=WRITE_CONCURRENCY,
                                          places=host_check.places)
    prunable = set(kind for dummy, kind in kinds) - UNPRUNABLE_KINDS
    plan = plan_changes(desired, owned, in_the_way, labels, force=params.get("force", False),
                        prune=params.get("prune", True), prunable_kinds=prunable, host_claims=host_check.claims,
                        live_hosted=hosted, cluster_domain=host_check.cluster_domain)
    result = dict(plan_summary(plan), cluster=client.cluster, role=role)
    if host_check is not NO_HOST_CHECK:
        result["host_conflicts"] = [host_conflict_report(c) for c in plan.host_conflict]
    if is_blocked(plan, params.get("force", False)):
        return plan, result
    applied = converge(client, plan, check_mode)
    if params.get("wait") and applied:
        client.wait_available(applied, params.get("wait_timeout", 300))
    result["changed"] = bool(writes(plan))
    return plan, result


def run_apply(module, cluster, role, desired, kinds, federation_name=None, release_namespace=None, report=None,
              host_check=NO_HOST_CHECK):
    """Converge one role of one cluster to ``desired`` and exit the module with the result.

    kinds              (apiVersion, kind) this role may own: listed even when nothing of them is desired,
                       so prune finds what is no longer wanted
    federation_name    value of the federation owner label (default: taken from the desired objects)
    release_namespace  with state=absent, the namespace meshfed created for this role, deleted once nothing
                       but what Kubernetes puts in every namespace is left in it
    report             function(client) -> dict added to the result once the role has converged
    host_check         HostCheck: hosts of ours that objects of someone else must not use (their conflicts
                       stop the run unless force is set); with one, the result has ``host_conflicts``

    The result's ``summary`` is its one line for the task output (module_utils/progress.py), timed from here.
    """
    started = time.time()
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"))
    federation_name = federation_name or federation_of(desired)
    if not federation_name:
        module.fail_json(msg="cluster %s: the federation name is needed to find the %s objects meshfed owns"
                         % (cluster, role))
    params = module.params
    client = None
    try:
        client = ClusterClient(cluster, auth_params(module))
        plan, result = apply_role(client, role, desired, kinds, federation_name, params, module.check_mode,
                                  host_check)
        if module._diff:
            result["diff"] = plan_diffs(plan)
        if is_blocked(plan, params.get("force", False)):
            module.fail_json(msg=conflict_message(cluster, plan.conflict, plan.host_conflict), changed=False,
                             api_requests=client.requests, **result)
        if plan.host_conflict:
            module.warn("cluster %s: %s" % (cluster, host_conflict_message(plan.host_conflict)))
        if release_namespace and params.get("state") == "absent":
            labels = owner_selector(federation_name, role)
            result["namespace"] = release_namespace_if_empty(client, release_namespace, labels, module.check_mode)
            result["changed"] = result["changed"] or result["namespace"] == "deleted"
        if report:
            result.update(report(client))
        result["summary"] = progress_line(result, time.time() - started, module.check_mode)
        module.exit_json(api_requests=client.requests, **result)
    except (ClusterError, DuplicateObjectError) as error:
        module.fail_json(msg=str(error), cluster=cluster, role=role,
                         api_requests=client.requests if client else {})


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
            # this federation's objects go with it; another federation's keep the namespace like anyone's
            mine = all((meta.get("labels") or {}).get(k) == labels[k] for k in (MANAGED_BY, FEDERATION))
            if (kind, meta["name"]) in NAMESPACE_DEFAULTS or meta.get("ownerReferences") or mine:
                continue
            others.append(describe(item))
    if others:
        return "kept: it holds objects meshfed does not own (%s)" % ", ".join(others)
    if not check_mode:
        client.delete(live)
    return "deleted"


def read_credential(module, paths):
    credential = {}
    for field, path_key in (("cert", "cert_path"), ("key", "key_path"), ("ca", "ca_path")):
        try:
            with open(paths[path_key]) as pem:
                credential[field] = pem.read()
        except (IOError, OSError) as error:
            if module.check_mode and error.errno == errno.ENOENT:
                # a check run before the first real one: the PKI's check mode wrote no files yet
                credential[field] = "not issued yet: %s" % paths[path_key]
                continue
            module.fail_json(msg="cluster %s: cannot read %s %s: %s"
                             % (module.params["cluster"], path_key, paths[path_key], error.strerror))
    return credential


def discover_ingress_address(client, gateway_namespace, timeout=0, check_mode=False):
    """The address of the private ingress gateway as its Service's status gives it, also as the host fact
    consumers read. A load balancer takes a while to give a new Service its address: wait up to ``timeout``
    seconds for it (one GET in check mode, where nothing was applied); None (fact cleared) if it has none."""
    deadline = time.time() + (0 if check_mode else timeout)
    while True:
        service = client.get({"apiVersion": CORE_KINDS["Service"], "kind": "Service",
                              "metadata": {"name": gateway_name(INGRESS), "namespace": gateway_namespace}})
        address = ingress_address_from_service(service)
        if address or time.time() >= deadline:
            return {"ingress_gateway_address": address, "ansible_facts": {DISCOVERED_ADDRESS_FACT: address}}
        time.sleep(1)


def run_private_gateway(module):
    federation = load_federation(module)
    cluster = module.params["cluster"]
    desired = []
    report = None
    if module.params["state"] == "present":
        desired = render_gateways(federation, cluster, read_credential(module, module.params["credential"]))
        if module.params["discover_address"]:
            report = functools.partial(discover_ingress_address, gateway_namespace=federation.settings.gateway_namespace,
                                       timeout=module.params["discover_timeout"], check_mode=module.check_mode)
    run_apply(module, cluster, "gateway", desired, role_kinds(federation.settings, "gateway"),
              federation.settings.federation_name, release_namespace=federation.settings.gateway_namespace,
              report=report)


def run_service_export(module):
    federation = load_federation(module)
    cluster = module.params["cluster"]
    desired = render_exports(federation, cluster) if module.params["state"] == "present" else []
    run_apply(module, cluster, "export", desired, role_kinds(federation.settings, "export"),
              federation.settings.federation_name)


def run_service_import(module):
    federation = load_federation(module)
    cluster = module.params["cluster"]
    desired = []
    host_check = NO_HOST_CHECK
    if module.params["state"] == "present":
        try:
            addresses = dict(module.params["federation"].get("discovered_addresses") or {})
            addresses.update(module.params["peer_addresses"])
            desired = render_imports(federation, cluster, addresses)
        except PeerAddressError as error:
            module.fail_json(msg="cluster %s: %s" % (cluster, error))
        claims = host_claims(federation, cluster)
        host_check = HostCheck(claims, claim_places(claims, functools.partial(kind_api_version, federation.settings)),
                               federation.settings.cluster_domain)
    run_apply(module, cluster, "import", desired, role_kinds(federation.settings, "import"),
              federation.settings.federation_name, host_check=host_check)
