# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the three cluster role modules (private_gateway, service_export, service_import) share: the validated model
in, the role's rendered objects, the apply engine, the result out."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import os
import time
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import auth_params
from ansible_collections.meshfed.federation.plugins.module_utils.apply.diff import plan_diffs
from ansible_collections.meshfed.federation.plugins.module_utils.apply.files import (
    RenderFilesError, object_files, sync_role_directory)
from ansible_collections.meshfed.federation.plugins.module_utils.apply.engine import (
    NO_HOST_CHECK, SettingsCheck, apply_role, plan_message, plan_role, release_namespace_if_empty)
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.validated_model import load_federation
from ansible_collections.meshfed.federation.plugins.module_utils.kube.hosts import host_conflict_message
from ansible_collections.meshfed.federation.plugins.module_utils.model.istio_version import (
    istiod_version, setting_version)
from ansible_collections.meshfed.federation.plugins.module_utils.kube.kinds import (
    NETWORKING, istio_api_version, role_kinds)
from ansible_collections.meshfed.federation.plugins.module_utils.apply.client import (
    ClusterClient, ClusterError, kubernetes_missing)
from ansible_collections.meshfed.federation.plugins.module_utils.kube.labels import owner_selector
from ansible_collections.meshfed.federation.plugins.module_utils.kube.mesh_settings import (
    MESH_CONFIG_NAMESPACE, istiod_name, mesh_config_name, warnings)
from ansible_collections.meshfed.federation.plugins.module_utils.apply.plan import (
    DuplicateObjectError, is_blocked, stamp)
from ansible_collections.meshfed.federation.plugins.module_utils.apply.preflight import preflight_result
from ansible_collections.meshfed.federation.plugins.module_utils.apply.progress import preflight_line, progress_line
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import gateway_pod_labels

RENDERED = "rendered"


def exit_rendered(module, cluster, role, desired):
    """state=rendered: the objects a run would apply, as it would write them, and no cluster contacted; with
    render_dir, written there too, one file per object (apply/files.py)."""
    rendered = [stamp(obj) for obj in desired]
    result = {"changed": False}
    if module.params.get("render_dir"):
        directory = os.path.join(module.params["render_dir"], cluster, role)
        try:
            result["files"] = dict(sync_role_directory(directory, object_files(role, rendered), module.check_mode),
                                   directory=directory)
        except RenderFilesError as error:
            module.fail_json(msg="cluster %s: render_dir: %s" % (cluster, error), cluster=cluster, role=role)
        result["changed"] = bool(result["files"]["written"] or result["files"]["removed"])
    module.exit_json(cluster=cluster, role=role, rendered=rendered, **result)


def refuse_render_dir(module, cluster):
    if module.params.get("render_dir") and module.params.get("state") != RENDERED:
        module.fail_json(msg="cluster %s: render_dir is only for state=rendered (state=%s writes to the cluster)"
                             % (cluster, module.params.get("state")), cluster=cluster)


def exit_preflight(module, client, cluster, role, desired, kinds, federation_name, host_check, started,
                   settings_check=None, report=None):
    """preflight=true: plan as a run would, write nothing, and return what would block the run as data, with the
    warnings a run would give (federate.yml skips the run when no preflight planned a write) and the report a run
    would add, read at once (``report(client, timeout=0)``: no wait for what a run may create)."""
    plan = plan_role(client, role, desired, kinds, federation_name, module.params, host_check, settings_check)
    force = module.params.get("force", False)
    result = preflight_result(cluster, role, plan, force, host_check is not NO_HOST_CHECK, settings_check is not None)
    warn_plan(module, cluster, plan, force)
    if report:
        result.update(report(client, timeout=0))
    result["summary"] = preflight_line(result, time.time() - started)
    module.exit_json(api_requests=client.requests, **result)


def warn_plan(module, cluster, plan, force):
    """The warnings of a plan: mesh settings that do not block, and host conflicts let through by force (Ansible
    shows a warning given by the preflight and again by the run once)."""
    for finding in warnings(plan.mesh_settings):
        module.warn("cluster %s: %s" % (cluster, finding.message))
    if force and plan.host_conflict:
        module.warn("cluster %s: %s" % (cluster, host_conflict_message(plan.host_conflict)))


def run_apply(module, cluster, role, desired, kinds, federation_name, release_namespace=None, report=None,
              host_check=NO_HOST_CHECK, settings_check=None, client=None):
    """Converge one role of one cluster to ``desired`` and exit the module with the result (with preflight=true,
    only plan it: exit_preflight).

    kinds              (apiVersion, kind) this role may own: listed even when nothing of them is desired,
                       so prune finds what is no longer wanted
    federation_name    value of the federation owner label
    release_namespace  with state=absent, the namespace meshfed created for this role, deleted once nothing
                       but what Kubernetes puts in every namespace is left in it
    report             function(client) -> dict added to the result once the role has converged
    host_check         engine.HostCheck: hosts of ours that objects of someone else must not use (their conflicts
                       stop the run unless force is set); with one, the result has ``host_conflicts``
    settings_check     engine.SettingsCheck: the mesh settings to read and judge (mesh_settings.py); the blocking
                       ones stop the role before anything is written, the others are warnings; with one, the
                       result has ``mesh_settings``
    client             the cluster's ClusterClient when the role has one already (cluster_istio_version's)

    The result's ``summary`` is its one line for the task output (module_utils/apply/progress.py), timed from here.
    """
    started = time.time()
    if module.params.get("state") == RENDERED:
        exit_rendered(module, cluster, role, desired)
    if kubernetes_missing():
        module.fail_json(msg=kubernetes_missing())
    params = module.params
    try:
        client = client or ClusterClient(cluster, auth_params(params))
        if params.get("preflight"):
            exit_preflight(module, client, cluster, role, desired, kinds, federation_name, host_check, started,
                           settings_check, report)
        plan, result = apply_role(client, role, desired, kinds, federation_name, params, module.check_mode,
                                  host_check, settings_check)
        if module._diff:
            result["diff"] = plan_diffs(plan)
        force = params.get("force", False)
        if is_blocked(plan, force):
            warn_plan(module, cluster, plan, False)
            module.fail_json(msg=plan_message(cluster, plan, force), changed=False, api_requests=client.requests,
                             **result)
        warn_plan(module, cluster, plan, True)
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
                         api_requests=client.requests if client else {}, **preflight_mark(params))


def preflight_mark(params):
    """What tells a preflight's result from a run's, failed ones too."""
    return {"preflight": True} if params.get("preflight") else {}


def cluster_istio_version(module, settings):
    """(version, client): the (major, minor) of the cluster's istiod that the gateway and export roles render for
    (model/istio_version.py), and the client that read it, or None. meshfed_istio_version when set; otherwise one GET of
    istiod's Deployment (None when there is none, and always with state=rendered, which contacts no cluster)."""
    configured = setting_version(settings.istio_version)
    if configured or module.params["state"] in (RENDERED, "absent") or kubernetes_missing():
        return configured, None
    cluster = module.params["cluster"]
    try:
        client = ClusterClient(cluster, auth_params(module.params))
        return istiod_version(client.get({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
            "namespace": MESH_CONFIG_NAMESPACE, "name": istiod_name(settings)}})), client
    except ClusterError as error:
        module.fail_json(msg="%s (reading istiod's version; set meshfed_istio_version to skip this)" % error,
                         cluster=cluster, **preflight_mark(module.params))


class ReadingClient(object):
    """What a role reads before it renders: ``get()`` makes the client on first use (None where nothing is read:
    state=rendered or absent, or no kubernetes library, which run_apply reports); a client that cannot be made
    fails the module, its kubeconfig masked as in every other message."""

    def __init__(self, module):
        self.module = module
        self.client = None

    def get(self):
        params = self.module.params
        if self.client is None and params["state"] not in (RENDERED, "absent") and not kubernetes_missing():
            try:
                self.client = ClusterClient(params["cluster"], auth_params(params))
            except ClusterError as error:
                self.module.fail_json(msg=str(error), cluster=params["cluster"], **preflight_mark(params))
        return self.client


def converge_role(module, role, render, apply_args=None, versioned=False, reads=False):
    """The module of one role: the validated federation, ``render(federation, cluster)`` (nothing with
    state=absent) and the engine, given what ``apply_args(federation, cluster, present)`` adds to run_apply's
    arguments. A ``versioned`` role renders for the cluster's Istio: ``render(federation, cluster, version)``; a
    role that ``reads`` the cluster first: ``render(federation, cluster, get_client)`` (ReadingClient.get), whose
    client the engine then uses too."""
    refuse_render_dir(module, module.params["cluster"])
    federation = load_federation(module, description_deprecated=True)
    settings = federation.settings
    cluster = module.params["cluster"]
    present = module.params["state"] != "absent"
    client = None
    if versioned:
        version, client = cluster_istio_version(module, settings)
        desired = render(federation, cluster, version) if present else []
    elif reads:
        reading = ReadingClient(module)
        desired = render(federation, cluster, reading.get) if present else []
        client = reading.client
    else:
        desired = render(federation, cluster) if present else []
    extra = apply_args(federation, cluster, present) if apply_args else {}
    run_apply(module, cluster, role, desired, role_kinds(role, settings.istio_api_version), settings.federation_name,
              client=client, **extra)


def settings_check(federation, findings, cluster, direction, namespaces, services=(), sidecar_namespaces=()):
    """The SettingsCheck of one role: its reads, and ``findings`` (mesh_settings.export_findings or import_findings)
    of what was read, with the labels of the role's gateway pods, which no Gateway of someone else may select."""
    settings = federation.settings
    networking = istio_api_version(NETWORKING, settings.istio_api_version)
    pods = [("private %s gateway" % direction, gateway_pod_labels(direction, settings))]
    return SettingsCheck(namespaces, services, sidecar_namespaces, networking, mesh_config_name(settings),
                         functools.partial(findings, federation, cluster, gateway_pods=pods),
                         gateway_api_version=networking, istiod_name=istiod_name(settings))
