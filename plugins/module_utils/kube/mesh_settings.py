# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mesh settings of a cluster that a federation cannot work with, found without I/O: what one role of one cluster
needs to know of the mesh (namespaces' labels, the mesh config, Sidecars, the exported Services) in, findings out.

A finding is *blocking* (the role's plan stops, like an object in the way, before anything is written) or a
warning. Each names the cluster (the engine's message prefix), the setting and what to do. What meshfed can render
around it, it renders instead (render/private_gateway.py, render/service_import.py):

* the egress gateway's Service carries ``networking.istio.io/exportTo`` (".", and the importing namespaces), so a
  mesh whose ``defaultServiceExportTo`` hides Services from other namespaces still shows it to the importing
  sidecars; an import's own DNS Service is exported to "*";
* the egress gateway's pods carry ``proxy.istio.io/config: "gatewayTopology: {}"``, which replaces a mesh-wide
  ``defaultConfig.gatewayTopology`` (and its ``proxyProtocol``) for them: the agent and the injector merge that
  annotation into the mesh's proxy config with the legacy jsonpb unmarshaler (pkg/util/protomarshal ApplyYAML,
  pkg/config/mesh MergeProxyConfig), which sets a message field present in the JSON to a new message
  (NewField, then Set) instead of merging into the old one.

What it cannot render around, it refuses (blocking) or warns about:

* a namespace in ambient mode that imports or exports (blocking);
* an exported Service the private ingress gateway cannot see: its own ``networking.istio.io/exportTo``, or the
  mesh's ``defaultServiceExportTo`` when it has none, leaves out the gateway namespace (blocking: the Service is
  the user's);
* a Sidecar that applies to an importing namespace and leaves the egress gateway or the local name out of its
  egress hosts (blocking when namespace-wide, a warning when it has a workloadSelector: meshfed cannot tell whether
  the pods it selects call the import);
* a mesh-wide ``gatewayTopology.proxyProtocol`` where the cluster exports (a warning: a load balancer in front of the
  ingress gateway may add the PROXY header on purpose);
* an import whose source grants callers of which none is in the import's namespace (a warning: the exporter will
  answer 403 until it grants one; not a mesh setting, but the import role's preflight is where it shows).

Why one file over 400 lines: every finding reads the same observed snapshot (SettingsCheck) with the same
helpers (items, visibility, the mesh config); split by finding, each part would import the others' helpers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - Ansible brings PyYAML
    HAS_YAML = False

from ansible_collections.meshfed.federation.plugins.module_utils.model.balance import balanced, fallback_orders
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import (
    EGRESS, balance_host, gateway_service_fqdn, service_fqdn)
from ansible_collections.meshfed.federation.plugins.module_utils.model.queries import ungranted_callers

AMBIENT_LABEL = "istio.io/dataplane-mode"
AMBIENT = "ambient"
EXPORT_TO = "networking.istio.io/exportTo"
PROXY_CONFIG = "proxy.istio.io/config"
# what the egress gateway's pods carry: no gateway topology of the mesh's (no PROXY protocol listener filter, no
# XFF settings: its http bindings' routes remove x-forwarded-for and x-forwarded-client-cert anyway)
EGRESS_PROXY_CONFIG = "gatewayTopology: {}"
MESH_CONFIG_NAMESPACE = "istio-system"
MESH_CONFIG_KEY = "mesh"
DEFAULT_ROOT_NAMESPACE = "istio-system"

# blocking: stops the role (and, in the preflight, every cluster); setting: what it is about, short;
# message: one or more sentences, the cluster left to the caller's prefix
Finding = namedtuple("Finding", "blocking setting message")
# what was read of one cluster for one role: namespace -> labels (None: no such namespace); the mesh config's text
# (None: no ConfigMap) and the ConfigMap's 'namespace/name'; the Sidecars of the namespaces asked for; (namespace,
# name) -> live Service (None: absent); the Gateways of every namespace (() when not asked for) and whether istiod
# scopes a Gateway to the gateway pods of its own namespace (PILOT_SCOPE_GATEWAY_TO_NAMESPACE)
Observed = namedtuple("Observed", "namespaces mesh_config mesh_config_ref sidecars services gateways gateway_scoped")
Observed.__new__.__defaults__ = ((), False)
SCOPE_GATEWAY_TO_NAMESPACE = "PILOT_SCOPE_GATEWAY_TO_NAMESPACE"


def mesh_config_name(settings):
    """The ConfigMap holding the mesh config: ``istio``, or ``istio-<revision>`` for a revisioned control plane."""
    return "istio-%s" % settings.istio_revision if settings.istio_revision else "istio"


def mesh_config_ref(settings):
    return "%s/%s" % (MESH_CONFIG_NAMESPACE, mesh_config_name(settings))


def parse_mesh_config(text):
    """(mesh config as a dict, problem or None). An absent or empty mesh config is Istio's defaults ({})."""
    if not text:
        return {}, None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        return {}, "its key %r is not YAML (%s)" % (MESH_CONFIG_KEY, str(error).splitlines()[0])
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        return {}, "its key %r is not a mapping" % MESH_CONFIG_KEY
    return data, None


def root_namespace(mesh):
    return mesh.get("rootNamespace") or DEFAULT_ROOT_NAMESPACE


def export_to_list(value):
    """An exportTo as Istio reads it: a list, or the Service annotation's comma-separated string."""
    if value is None:
        return None
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(part).strip() for part in value]


def visible_to(export_to, own_namespace, namespace):
    """A Service of ``own_namespace`` with this exportTo is seen from ``namespace``: ``*``, the namespace by name,
    or ``.`` for its own (pilot/pkg/model/push_context.go: ``~`` alone hides it everywhere)."""
    if "*" in export_to or namespace in export_to:
        return True
    return namespace == own_namespace and "." in export_to


def _is_ambient(labels):
    return (labels or {}).get(AMBIENT_LABEL) == AMBIENT


def _item(kind, index, name, indexed=True):
    return "meshfed_%s[%d] (%s)" % (kind, index, name) if indexed else "meshfed_%s (%s)" % (kind, name)


def _imports_indexed(federation, cluster_name):
    """The model's imports are the inventory's, in order, unless some wait for a peer's bundle and were left out."""
    prefix = "%s: meshfed_imports[" % cluster_name
    return not any(line.startswith(prefix) for line in federation.skipped)


def ambient_findings(cluster_name, observed, users, what):
    """Blocking: each namespace in ambient mode among ``users`` (namespace -> ['meshfed_imports[0] (x)', ...])."""
    findings = []
    for namespace, items in sorted(users.items()):
        if not _is_ambient(observed.namespaces.get(namespace)):
            continue
        if what == "imports":
            why = ("ztunnel applies no VirtualService, DestinationRule or SNI, so calls to the import would fail "
                   "silently")
            instead = "import into a namespace whose pods have sidecars"
        else:
            why = ("the private ingress gateway would reach the service around its waypoint, skipping the policies "
                   "the waypoint enforces")
            instead = "export a service of a namespace whose pods have sidecars"
        findings.append(Finding(True, "ambient namespace", (
            "namespace %s is in ambient mode (label %s=%s) and %s %s there: %s. Take the namespace out of ambient "
            "(kubectl label namespace %s %s=none --overwrite, and sidecar injection: istio-injection=enabled or "
            "istio.io/rev) and restart its pods, or %s." % (
                namespace, AMBIENT_LABEL, AMBIENT, ", ".join(items), "imports" if what == "imports" else "exports",
                why, namespace, AMBIENT_LABEL, instead))))
    return findings


def mesh_config_findings(observed):
    """(mesh config dict, findings about reading it): one that is not YAML is a warning, and Istio's defaults are
    assumed (istiod would refuse it too and keep the last good one)."""
    mesh, problem = parse_mesh_config(observed.mesh_config)
    if problem:
        return mesh, [Finding(False, "mesh config", "the mesh config in ConfigMap %s cannot be read: %s; meshfed "
                                                    "checked against Istio's defaults." % (observed.mesh_config_ref,
                                                                                           problem))]
    return mesh, []


# --- Sidecars ---

def sidecar_egress_hosts(sidecar):
    """Every ``namespace/host`` of a Sidecar's egress listeners; None when it has none, which Istio takes as
    ``*/*`` (every Service visible to the namespace)."""
    egress = (sidecar.get("spec") or {}).get("egress")
    if not egress:
        return None
    return [host for listener in egress for host in ((listener or {}).get("hosts") or [])]


def _host_matches(pattern, host):
    pattern = pattern.lower()
    if pattern == "*" or pattern == host:
        return True
    return pattern.startswith("*.") and host.endswith(pattern[1:])


def sidecar_covers(hosts, proxy_namespace, namespace, host):
    """An egress host list (``ns/host`` entries) lets a proxy of ``proxy_namespace`` see ``host`` of a Service or
    VirtualService in ``namespace``: ``*/`` any namespace, ``./`` the proxy's own (for the root namespace's Sidecar
    too: Istio converts it for the namespace it applies to), ``~/`` none; the host exactly, ``*`` or ``*.suffix``."""
    if hosts is None:
        return True
    for entry in hosts:
        if not isinstance(entry, str) or "/" not in entry:
            continue
        entry_namespace, entry_host = entry.split("/", 1)
        if entry_namespace == "~":
            continue
        if entry_namespace in ("*", namespace) or (entry_namespace == "." and namespace == proxy_namespace):
            if _host_matches(entry_host, host):
                return True
    return False


def _sidecar_name(sidecar):
    meta = sidecar.get("metadata") or {}
    return "Sidecar %s/%s" % (meta.get("namespace"), meta.get("name"))


def _selector(sidecar):
    return ((sidecar.get("spec") or {}).get("workloadSelector") or {}).get("labels") or None


def applicable_sidecars(sidecars, namespace, root):
    """(namespace-wide Sidecars that apply to the pods of ``namespace``, Sidecars of it with a workloadSelector).
    A namespace's own Sidecar without workloadSelector overrides the root namespace's; several of them are
    undefined in Istio (any may be the one used), so each counts."""
    own = [s for s in sidecars if (s.get("metadata") or {}).get("namespace") == namespace]
    selecting = [s for s in own if _selector(s)]
    wide = [s for s in own if not _selector(s)]
    if not wide and namespace != root:
        wide = [s for s in sidecars if (s.get("metadata") or {}).get("namespace") == root and not _selector(s)]
    return wide, selecting


def sidecar_findings(federation, cluster_name, observed, mesh):
    """Sidecars that hide the egress gateway or an import's local name from an importing namespace."""
    settings = federation.settings
    cluster = federation.clusters[cluster_name]
    root = root_namespace(mesh)
    egress_host = gateway_service_fqdn(EGRESS, settings)
    by_namespace = {}
    for imported in cluster.imports:
        by_namespace.setdefault(imported.namespace, []).append(imported)
    findings = []
    for namespace, imports in sorted(by_namespace.items()):
        if namespace == settings.gateway_namespace:
            continue
        # (what, its namespace, host, entry to add); a weighted or failover import reaches the egress gateway by the
        # hosts of its destinations, in its own namespace (render/balance.py)
        needed = []
        if not all(balanced(i) for i in imports):
            needed.append(("the egress gateway", settings.gateway_namespace, egress_host,
                           "%s/* (or %s/%s)" % (settings.gateway_namespace, settings.gateway_namespace, egress_host)))
        for imported in imports:
            local = service_fqdn(namespace, imported.name, settings)
            needed.append(("the local name of import %s/%s" % (namespace, imported.name), namespace, local,
                           "./%s (or ./*)" % local))
            if balanced(imported):
                needed.extend(("the destinations of import %s/%s" % (namespace, imported.name), namespace,
                               balance_host(imported, first), "./%s (or ./*)" % balance_host(imported, first))
                              for first, dummy, dummy in fallback_orders(imported))
        wide, selecting = applicable_sidecars(observed.sidecars, namespace, root)
        for sidecar, blocking in [(s, True) for s in wide] + [(s, False) for s in selecting]:
            hosts = sidecar_egress_hosts(sidecar)
            missing = [n for n in needed if not sidecar_covers(hosts, namespace, n[1], n[2])]
            if not missing:
                continue
            meta = sidecar["metadata"]
            if blocking:
                whose = ("applies to every pod of namespace %s" % namespace if meta.get("namespace") == namespace else
                         "of the root namespace %s applies to namespace %s, which has no Sidecar of its own"
                         % (root, namespace))
                effect = "its sidecars would get 503 calling the import"
            else:
                whose = "selects the pods of namespace %s labelled %s" % (namespace, ", ".join(
                    "%s=%s" % item for item in sorted(_selector(sidecar).items())))
                effect = ("those pods would get 503 calling the import (meshfed cannot tell whether they call it, so "
                          "it goes on)")
            findings.append(Finding(blocking, "Sidecar egress hosts", (
                "%s %s, and its egress hosts leave out %s: %s. Add %s to its egress hosts." % (
                    _sidecar_name(sidecar), whose, " and ".join("%s (%s)" % (n[0], n[2]) for n in missing), effect,
                    " and ".join(n[3] for n in missing)))))
    return findings


# --- what each role needs, and its findings ---

def import_reads(federation, cluster_name):
    """(namespaces whose labels to read, namespaces whose Sidecars to list before the root namespace's)."""
    cluster = federation.clusters[cluster_name]
    namespaces = sorted(set(i.namespace for i in cluster.imports))
    return namespaces, [n for n in namespaces if n != federation.settings.gateway_namespace]


def import_findings(federation, cluster_name, observed, gateway_pods=()):
    """Findings of the import role of one cluster; ``gateway_pods`` as foreign_gateway_findings takes them."""
    cluster = federation.clusters[cluster_name]
    if not cluster.imports:
        return []
    indexed = _imports_indexed(federation, cluster_name)
    users = {}
    for index, imported in enumerate(cluster.imports):
        users.setdefault(imported.namespace, []).append(_item("imports", index, imported.name, indexed))
    mesh, findings = mesh_config_findings(observed)
    findings.extend(ambient_findings(cluster_name, observed, users, "imports"))
    findings.extend(sidecar_findings(federation, cluster_name, observed, mesh))
    findings.extend(foreign_gateway_findings(federation.settings, observed, gateway_pods))
    findings.extend(Finding(False, "callers", sentence) for sentence in ungranted_callers(federation, cluster_name))
    return findings


def export_reads(federation, cluster_name):
    """(namespaces whose labels to read, (namespace, name) of the Services to read)."""
    cluster = federation.clusters[cluster_name]
    services = sorted(set((e.service.namespace, e.service.name) for e in cluster.exports))
    return sorted(set(ns for ns, dummy in services)), services


def _service_visibility_finding(settings, observed, mesh, export, item):
    gateway_namespace = settings.gateway_namespace
    key = (export.service.namespace, export.service.name)
    service = observed.services.get(key)
    if service is None:
        return None
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    name = "Service %s/%s" % key
    fix = ".,%s" % gateway_namespace
    if EXPORT_TO in annotations:
        export_to = export_to_list(annotations[EXPORT_TO])
        if visible_to(export_to, key[0], gateway_namespace):
            return None
        return Finding(True, "Service exportTo", (
            "%s exports %s, annotated %s: %r, which hides it from the private ingress gateway's namespace %s: the "
            "gateway would answer 503. meshfed does not change your Service: add %s to its exportTo "
            "(kubectl annotate service -n %s %s %s=%s --overwrite, keeping the namespaces it lists)." % (
                item, name, EXPORT_TO, annotations[EXPORT_TO], gateway_namespace, gateway_namespace, key[0], key[1],
                EXPORT_TO, ",".join(sorted(set(export_to + [gateway_namespace]) - {"~"})) or fix)))
    default = export_to_list(mesh.get("defaultServiceExportTo"))
    if not default or visible_to(default, key[0], gateway_namespace):
        return None
    return Finding(True, "defaultServiceExportTo", (
        "%s exports %s, which has no %s annotation, and the mesh config (ConfigMap %s) sets defaultServiceExportTo: "
        "%s, which hides it from the private ingress gateway's namespace %s: the gateway would answer 503. meshfed does "
        "not change your Service: annotate it (kubectl annotate service -n %s %s %s=%s), or add %s to "
        "defaultServiceExportTo." % (item, name, EXPORT_TO, observed.mesh_config_ref, default, gateway_namespace,
                                     key[0], key[1], EXPORT_TO, fix, gateway_namespace)))


def proxy_protocol(mesh):
    """The mesh-wide gateway PROXY protocol setting, or None."""
    topology = (mesh.get("defaultConfig") or {}).get("gatewayTopology") or {}
    return topology.get("proxyProtocol") if isinstance(topology, dict) else None


def export_findings(federation, cluster_name, observed, gateway_pods=()):
    """Findings of the export role of one cluster; ``gateway_pods`` as foreign_gateway_findings takes them."""
    settings = federation.settings
    cluster = federation.clusters[cluster_name]
    if not cluster.exports:
        return []
    users = {}
    items = {}
    for index, export in enumerate(cluster.exports):
        items[export.name] = _item("exports", index, export.name)
        users.setdefault(export.service.namespace, []).append(items[export.name])
    mesh, findings = mesh_config_findings(observed)
    findings.extend(ambient_findings(cluster_name, observed, users, "exports"))
    for export in cluster.exports:
        finding = _service_visibility_finding(settings, observed, mesh, export, items[export.name])
        if finding:
            findings.append(finding)
    if proxy_protocol(mesh) is not None:
        findings.append(Finding(False, "gatewayTopology.proxyProtocol", (
            "the mesh config (ConfigMap %s) sets defaultConfig.gatewayTopology.proxyProtocol, so the private ingress "
            "gateway expects a PROXY protocol header on every connection; the peers' egress gateways send none, so "
            "every link to this cluster fails unless a load balancer in front of the gateway adds it. meshfed leaves "
            "the ingress gateway as the mesh says; if no load balancer adds the header, remove the setting or "
            "override it on the gateway's pods (%s)." % (observed.mesh_config_ref, PROXY_CONFIG))))
    findings.extend(foreign_gateway_findings(settings, observed, gateway_pods))
    return findings


def istiod_name(settings):
    """istiod's Deployment in istio-system: ``istiod``, or ``istiod-<revision>``."""
    return "istiod-%s" % settings.istio_revision if settings.istio_revision else "istiod"


def scopes_gateways(istiod):
    """istiod (its live Deployment, or None) runs with PILOT_SCOPE_GATEWAY_TO_NAMESPACE=true: a Gateway then
    applies only to the gateway pods of its own namespace (pilot/pkg/model/push_context.go, mergeGateways)."""
    for container in ((((istiod or {}).get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []:
        for env in container.get("env") or []:
            if env.get("name") == SCOPE_GATEWAY_TO_NAMESPACE and str(env.get("value", "")).lower() == "true":
                return True
    return False


def foreign_gateway_findings(settings, observed, pods):
    """Gateways of someone else whose selector matches meshfed's gateway pods. ``pods``: (what, pod labels) of each
    gateway of the role. Istio applies a Gateway's selector to the gateway pods of every namespace (unless istiod
    scopes it) and merges the servers of every Gateway that selects a pod into its listeners: a tenant's Gateway
    would add servers to the federation's gateway, and one with a server for an export's or a binding's host makes
    Envoy refuse the whole listener (two filter chains with the same match): from then on the gateway takes no
    listener update, and a new pod of it has no listener at all."""
    findings = []
    if observed.gateway_scoped:
        return findings
    for gateway in observed.gateways:
        meta = gateway.get("metadata") or {}
        # the gateway namespace is the federation's own (tenants write elsewhere): what else is there is an object in
        # the way the plan reports, or the cluster administrator's
        if meta.get("namespace") == settings.gateway_namespace:
            continue
        selector = (gateway.get("spec") or {}).get("selector") or {}
        for what, pod_labels in pods:
            if all(pod_labels.get(key) == value for key, value in selector.items()):
                findings.append(Finding(True, "Gateway selector", (
                    "Gateway %s/%s selects the pods of meshfed's %s (selector %s): Istio merges its servers into the "
                    "gateway's listeners, where it could serve a host of the federation or, with the same host as one "
                    "of meshfed's servers, make Envoy refuse the whole listener. Delete it or narrow its selector, "
                    "or run istiod with %s=true (a Gateway then selects the gateway pods of its own namespace only)."
                    % (meta.get("namespace"), meta.get("name"), what,
                       ", ".join("%s=%s" % kv for kv in sorted(selector.items())) or "empty: every gateway pod",
                       SCOPE_GATEWAY_TO_NAMESPACE))))
                break
    return findings


def blocking(findings):
    return [f for f in findings if f.blocking]


def warnings(findings):
    return [f for f in findings if not f.blocking]


def finding_report(finding):
    return {"blocking": finding.blocking, "setting": finding.setting, "message": finding.message}


def mesh_settings_message(findings):
    """The blocking findings in one paragraph, as conflict_reasons words what stops a role."""
    stop = blocking(findings)
    if not stop:
        return ""
    return "Mesh settings meshfed cannot work with: %s" % " ".join(f.message for f in stop)
