# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The apply engine: read what one role of one cluster holds with few requests, plan against it (plan.py),
write the plan (unless check mode or blocked), and release the namespace a role created once nothing else
lives in it. Requests go through kube_client.ClusterClient."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
from collections import namedtuple

from ansible_collections.meshfed.federation.plugins.module_utils.kube.hosts import (
    host_conflict_message, host_conflict_report)
from ansible_collections.meshfed.federation.plugins.module_utils.kube.kinds import NAMESPACE_CONTENT_KINDS, is_shared
from ansible_collections.meshfed.federation.plugins.module_utils.apply.client import ClusterError, terminating_message
from ansible_collections.meshfed.federation.plugins.module_utils.kube.labels import (
    FEDERATION, MANAGED_BY, owner_selector, owning_federation)
from ansible_collections.meshfed.federation.plugins.module_utils.kube.mesh_settings import (
    MESH_CONFIG_KEY, MESH_CONFIG_NAMESPACE, Observed, finding_report, mesh_settings_message, parse_mesh_config,
    root_namespace, scopes_gateways)
from ansible_collections.meshfed.federation.plugins.module_utils.kube.objects import api_group, describe, object_key
from ansible_collections.meshfed.federation.plugins.module_utils.apply.plan import (
    is_blocked, plan_changes, plan_summary, write_waves, writes)

# Requests in flight at once per cluster, for the LISTs of the plan and the writes of one wave (kubectl apply
# sends one at a time).
WRITE_CONCURRENCY = 8
# a pod's default terminationGracePeriodSeconds, and a little
POD_GONE_TIMEOUT = 40

# Kept in a namespace we created, these do not make it "someone else's": what Kubernetes puts in every namespace,
# and what istiod's namespace controller writes into every namespace it serves (its root certificate and CRL).
NAMESPACE_DEFAULTS = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default"),
                      ("ConfigMap", "istio-ca-root-cert"), ("ConfigMap", "istio-ca-crl")}

# Host claims of a role (hosts.HostClaim), the (apiVersion, kind, namespace) to LIST for them, and the cluster
# domain that completes short host names.
HostCheck = namedtuple("HostCheck", "claims places cluster_domain")
NO_HOST_CHECK = HostCheck((), (), "cluster.local")

# The mesh settings of a role (mesh_settings.py): the namespaces whose labels to read (a GET each), the Services
# (namespace, name) to read (a LIST of Services per namespace), the namespaces whose Sidecars to list (the root namespace's too, once the
# mesh config has named it), the Sidecar apiVersion, the mesh config's ConfigMap name (in istio-system, one GET),
# and evaluate(mesh_settings.Observed) -> [Finding]; the Gateway apiVersion and istiod's Deployment name when the
# Gateways of every namespace are to be read (one LIST, and one GET of istiod: whether it scopes Gateways), else None.
SettingsCheck = namedtuple("SettingsCheck", "namespaces services sidecar_namespaces sidecar_api_version "
                                            "mesh_config_name evaluate gateway_api_version istiod_name")
SettingsCheck.__new__.__defaults__ = (None, None)


def kinds_to_read(desired, role_kinds):
    """(apiVersion, kind) of every kind to LIST: the role's (so prune works when nothing is desired) and
    the desired objects' (their apiVersion wins for a kind both name)."""
    by_group_kind = {}
    for api_version, kind in list(role_kinds) + [(o["apiVersion"], o["kind"]) for o in desired]:
        by_group_kind[(api_group(api_version), kind)] = (api_version, kind)
    return list(by_group_kind.values())


def missing_by_place(desired, known_keys):
    """Desired objects not among ``known_keys``, grouped by (apiVersion, kind, namespace)."""
    groups = {}
    for obj in desired:
        if object_key(obj) not in known_keys:
            place = (obj["apiVersion"], obj["kind"], obj["metadata"].get("namespace") or "")
            groups.setdefault(place, []).append(obj)
    return groups


def find_in_the_way(client, desired, owned):
    """Live objects holding the name of a desired object we do not own. A single candidate in a namespace
    costs one GET, several one metadata-only LIST of their namespace; objects in a namespace that does not
    exist yet cost nothing."""
    known = set(object_key(o) for o in owned)
    missing = missing_by_place(desired, known)
    found = []
    # Namespaces first: a namespace that does not exist holds nothing
    absent_namespaces = set()
    for place in [p for p in missing if p[1] == "Namespace"]:
        for obj in missing.pop(place):
            live = client.get(obj)
            if live is None:
                absent_namespaces.add(obj["metadata"]["name"])
            else:
                found.append(live)
    for (api_version, kind, namespace), objects in missing.items():
        if namespace and namespace in absent_namespaces:
            continue
        if len(objects) == 1:
            live = client.get(objects[0])
            found.extend([live] if live is not None else [])
            continue
        names = set(o["metadata"]["name"] for o in objects)
        found.extend(o for o in client.list_metadata(api_version, kind, namespace or None)
                     if o["metadata"]["name"] in names)
    return found


def read_live(client, desired, role_kinds, owner_selector, concurrency=8, places=()):
    """(live_owned, live_names, live_hosted) for plan_changes: one labelled LIST per kind and one LIST per
    (apiVersion, kind, namespace) of ``places`` (every object there, whoever owns it: what host claims are
    checked against), sent concurrently, then find_in_the_way."""
    kinds = kinds_to_read(desired, role_kinds)
    places = sorted(set(places))
    for api_version, kind in kinds + [place[:2] for place in places]:  # discovery once, before the threads
        client.resource(api_version, kind)
    requests = [(kind, None) for kind in kinds] + [(None, place) for place in places]

    def send(request):
        kind, place = request
        if kind is not None:
            return "owned", client.list_owned(kind[0], kind[1], owner_selector)
        return "hosted", client.list_namespace(*place)

    lists = client.map_concurrently(send, requests, concurrency)
    owned = [obj for which, listed in lists if which == "owned" for obj in listed]
    hosted = [obj for which, listed in lists if which == "hosted" for obj in listed]
    return owned, find_in_the_way(client, desired, owned), hosted


def conflict_reasons(conflicts, host_conflicts=(), mesh_settings=()):
    """What stands in the way: objects in the way of our names (someone else's, or another federation's), then
    objects of someone else for our hosts, then the blocking mesh settings."""
    parts = []
    by_owner = {}
    for change in conflicts:
        by_owner.setdefault(owning_federation(change.live), []).append(describe(change.desired))
    foreign = by_owner.pop(None, [])
    if len(foreign) == 1:
        parts.append("%s exists and is not managed by meshfed; remove it or set force=true to adopt it." % foreign[0])
    elif foreign:
        parts.append("%s exist and are not managed by meshfed; remove them or set force=true to adopt them."
                     % ", ".join(foreign))
    for owner, names in sorted(by_owner.items()):
        parts.append("%s %s to the meshfed federation '%s' (another inventory, or another meshfed_federation_name): "
                     "federations that share a cluster each need their own meshfed_gateway_namespace, and their "
                     "imports their own names." % (", ".join(names), "belongs" if len(names) == 1 else "belong", owner))
    if host_conflicts:
        parts.append(host_conflict_message(host_conflicts))
    settings_message = mesh_settings_message(mesh_settings)
    if settings_message:
        parts.append(settings_message)
    return " ".join(parts)


def cluster_conflict_message(cluster, reasons):
    """Why nothing was changed in ``cluster``: the conflict_reasons of its blocked roles."""
    return "cluster %s: %s Nothing was changed." % (cluster, " ".join(reasons))


def conflict_message(cluster, conflicts, host_conflicts=(), mesh_settings=()):
    return cluster_conflict_message(cluster, [conflict_reasons(conflicts, host_conflicts, mesh_settings)])


def plan_message(cluster, plan, force):
    """Why a blocked plan stops its role: conflicts, host conflicts unless forced, blocking mesh settings."""
    return conflict_message(cluster, plan.conflict, () if force else plan.host_conflict, plan.mesh_settings)


def read_mesh_settings(client, check, concurrency=WRITE_CONCURRENCY):
    """What one role needs to know of the mesh (mesh_settings.Observed): the mesh config (one GET of its ConfigMap
    first: it names the root namespace), then, concurrently, a GET per namespace, a LIST of Services per namespace
    of the Services asked for (one request whatever the number of exports there), a LIST of Sidecars per namespace
    (the root namespace's included), and the Gateways of every namespace with istiod's Deployment when asked."""
    config_map = client.get({"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": check.mesh_config_name, "namespace": MESH_CONFIG_NAMESPACE}})
    text = ((config_map or {}).get("data") or {}).get(MESH_CONFIG_KEY)
    sidecar_namespaces = list(check.sidecar_namespaces)
    if sidecar_namespaces:
        root = root_namespace(parse_mesh_config(text)[0])
        if root not in sidecar_namespaces:
            sidecar_namespaces.append(root)
        client.resource(check.sidecar_api_version, "Sidecar")  # discovery once, before the threads
    service_namespaces = sorted(set(namespace for namespace, dummy in check.services))
    requests = ([("namespace", name) for name in check.namespaces] +
                [("services", namespace) for namespace in service_namespaces] +
                [("sidecars", namespace) for namespace in sidecar_namespaces])
    if check.gateway_api_version:
        client.resource(check.gateway_api_version, "Gateway")
        requests += [("gateways", None), ("istiod", check.istiod_name)]

    def send(request):
        what, key = request
        if what == "namespace":
            return what, key, client.get({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": key}})
        if what == "services":
            return what, key, client.list_namespace("v1", "Service", key)
        if what == "gateways":
            return what, key, client.list_namespace(check.gateway_api_version, "Gateway", None)
        if what == "istiod":
            return what, key, client.get({"apiVersion": "apps/v1", "kind": "Deployment",
                                          "metadata": {"namespace": MESH_CONFIG_NAMESPACE, "name": key}})
        return what, key, client.list_namespace(check.sidecar_api_version, "Sidecar", key)

    namespaces, services, sidecars, gateways, scoped = {}, {}, [], [], False
    for what, key, found in client.map_concurrently(send, requests, concurrency):
        if what == "namespace":
            namespaces[key] = None if found is None else ((found.get("metadata") or {}).get("labels") or {})
        elif what == "services":
            by_name = dict((service["metadata"]["name"], service) for service in found)
            services.update(((key, name), by_name.get(name)) for namespace, name in check.services if namespace == key)
        elif what == "gateways":
            gateways = found
        elif what == "istiod":
            scoped = scopes_gateways(found)
        else:
            sidecars.extend(found)
    return Observed(namespaces, text, "%s/%s" % (MESH_CONFIG_NAMESPACE, check.mesh_config_name), sidecars, services,
                    gateways, scoped)


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
        wait_pods_gone(client, [c.live for c in wave if c.desired is None and c.live["kind"] == "Deployment"])
    return applied_deployments


def pods_of(deployment, pods):
    """The pods of ``pods`` that a Deployment's selector (matchLabels) picks."""
    wanted = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return [p for p in pods if wanted and all(
        ((p.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in wanted.items())]


def wait_pods_gone(client, deployments, timeout=POD_GONE_TIMEOUT, interval=1.0, clock=time.monotonic, sleep=time.sleep):
    """After deleting Deployments, wait (up to ``timeout`` seconds, then go on) until their pods are gone, so that
    what they use, deleted in the next waves (Secrets, RoleBindings, Roles), outlives them: a gateway that asks istiod
    for its certificate once its RoleBinding is gone is refused, and istiod keeps that refusal for the service
    account a minute long, so that a gateway of the same name created within it (federate right after unfederate)
    would get no certificate."""
    deadline = clock() + timeout
    for namespace in sorted(set(d["metadata"]["namespace"] for d in deployments)):
        mine = [d for d in deployments if d["metadata"]["namespace"] == namespace]
        while pods_of_any(mine, client.list_namespace("v1", "Pod", namespace)) and clock() < deadline:
            sleep(interval)


def pods_of_any(deployments, pods):
    return [p for d in deployments for p in pods_of(d, pods)]


def send_write(client, change):
    if change.desired is None:
        client.delete(change.live)
    else:
        client.apply(change.desired, force_conflicts=change.live is not None)


def plan_role(client, role, desired, kinds, federation_name, params, host_check=NO_HOST_CHECK, settings_check=None):
    """Read what one role of one cluster holds and plan against it; nothing is written. With a ``settings_check``
    the plan's ``mesh_settings`` are what the cluster's mesh settings mean for the role."""
    findings = ()
    if settings_check is not None:
        findings = tuple(settings_check.evaluate(read_mesh_settings(client, settings_check)))
    labels = owner_selector(federation_name, role)
    owned, in_the_way, hosted = read_live(client, desired, kinds, labels, concurrency=WRITE_CONCURRENCY,
                                          places=host_check.places)
    terminating = terminating_namespaces(desired, owned + in_the_way)
    if terminating:
        raise ClusterError(terminating_message(client.cluster, terminating[0][0], "deletionTimestamp %s" % terminating[0][1]))
    prunable = set(kind for dummy, kind in kinds if not is_shared(kind))
    plan = plan_changes(desired, owned, in_the_way, labels, force=params.get("force", False),
                        prune=params.get("prune", True), prunable_kinds=prunable, host_claims=host_check.claims,
                        live_hosted=hosted, cluster_domain=host_check.cluster_domain)
    return plan._replace(mesh_settings=findings)


def apply_role(client, role, desired, kinds, federation_name, params, check_mode, host_check=NO_HOST_CHECK,
               settings_check=None):
    """Read, plan and (unless check mode or conflicts) write one role of one cluster: (plan, result)."""
    plan = plan_role(client, role, desired, kinds, federation_name, params, host_check, settings_check)
    result = dict(plan_summary(plan), cluster=client.cluster, role=role)
    if host_check is not NO_HOST_CHECK:
        result["host_conflicts"] = [host_conflict_report(c) for c in plan.host_conflict]
    if settings_check is not None:
        result["mesh_settings"] = [finding_report(f) for f in plan.mesh_settings]
    if is_blocked(plan, params.get("force", False)):
        return plan, result
    applied = converge(client, plan, check_mode)
    if params.get("wait") and applied:
        client.wait_available(applied, params.get("wait_timeout", 300))
    result["changed"] = bool(writes(plan))
    return plan, result


def terminating_namespaces(desired, live):
    """(name, deletionTimestamp) of each live namespace being deleted that desired objects go in."""
    wanted = set(obj["metadata"].get("namespace") for obj in desired) | set(
        obj["metadata"]["name"] for obj in desired if obj["kind"] == "Namespace")
    return sorted((obj["metadata"]["name"], obj["metadata"]["deletionTimestamp"]) for obj in live
                  if obj["kind"] == "Namespace" and obj["metadata"].get("deletionTimestamp")
                  and obj["metadata"]["name"] in wanted)


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
