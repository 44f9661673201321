# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The apply engine (runner → kube_client → apply) against a real API server of the lab, with its real Istio
CRDs. Nothing of the Kubernetes API is mocked: only the Ansible module object is a stand-in that records
what the runner would return to Ansible."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import socket
import uuid

import pytest
import yaml

from ansible_collections.meshfed.federation.plugins.module_utils.kube.labels import owned_labels
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.cluster_role import run_apply

pytestmark = pytest.mark.lab

CLUSTER = "cluster3"
ROLE = "export"
ISTIO = "networking.istio.io/v1"
# what the export role may own: listed on every run so prune works when nothing is desired
ROLE_KINDS = [("v1", "Service"), ("v1", "Secret"), (ISTIO, "Gateway"), (ISTIO, "VirtualService")]
NO_WRITES = {"apply": 0, "delete": 0}


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super(ModuleExit, self).__init__(result.get("msg") or result)
        self.result, self.failed = result, failed


class RecordingModule(object):
    """The part of AnsibleModule the runner uses; exit_json/fail_json raise with the result."""

    def __init__(self, kubeconfig, context, check_mode=False, diff=False, **params):
        self.params = dict(kubeconfig=kubeconfig, context=context, force=False, prune=True, wait=False,
                           wait_timeout=60, state="present")
        self.params.update(params)
        self.check_mode = check_mode
        self._diff = diff

    def exit_json(self, **result):
        raise ModuleExit(result, failed=False)

    def fail_json(self, **result):
        raise ModuleExit(result, failed=True)


def run(lab, federation, desired, kinds=None, **module_options):
    module = RecordingModule(lab.kubeconfig, CLUSTER, **module_options)
    with pytest.raises(ModuleExit) as done:
        run_apply(module, CLUSTER, ROLE, desired, ROLE_KINDS if kinds is None else kinds, federation)
    return done.value


def converge(lab, federation, desired, **module_options):
    """A run that must succeed; its result."""
    outcome = run(lab, federation, desired, **module_options)
    assert not outcome.failed, outcome.result
    return outcome.result


def writes_of(result):
    return dict((verb, result["api_requests"][verb]) for verb in NO_WRITES)


@pytest.fixture
def federation():
    return "eng-" + uuid.uuid4().hex[:6]


@pytest.fixture
def namespace(lab):
    name = "apply-" + uuid.uuid4().hex[:8]
    yield name
    lab.kubectl_run(CLUSTER, "delete", "namespace", name, "--wait=false", "--ignore-not-found")


def b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def desired_objects(ns, federation, host="reviews.c3.example.com", secret_value="value", with_namespace=True):
    labels = owned_labels(federation, ROLE, export="reviews")
    objects = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "alias", "namespace": ns, "labels": labels},
         "spec": {"ports": [{"name": "http", "port": 9080, "targetPort": 9080, "protocol": "TCP"}]}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cred", "namespace": ns, "labels": labels},
         "type": "Opaque", "data": {"k": b64(secret_value)}},
        {"apiVersion": ISTIO, "kind": "Gateway", "metadata": {"name": "gw", "namespace": ns, "labels": labels},
         "spec": {"selector": {"istio": "private-ingressgateway"}, "servers": [
             {"port": {"number": 15443, "name": "tls", "protocol": "TLS"}, "hosts": [host],
              "tls": {"mode": "MUTUAL", "credentialName": "cred", "subjectAltNames": ["c1.example.com"]}}]}},
        {"apiVersion": ISTIO, "kind": "VirtualService", "metadata": {"name": "vs", "namespace": ns, "labels": labels},
         "spec": {"hosts": [host], "gateways": ["gw"], "tcp": [{"match": [{"port": 15443}], "route": [
             {"destination": {"host": "reviews.default.svc.cluster.local", "port": {"number": 9080}}}]}]}},
    ]
    if with_namespace:
        objects.insert(0, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})
    return objects


def names(ns, *kinds_and_names):
    return sorted("%s %s/%s" % (kind, ns, name) for kind, name in kinds_and_names)


def live_objects(lab, ns):
    """Every object of the test's kinds in ``ns``, exactly as the API server returns it."""
    items = json.loads(lab.kubectl(CLUSTER, "get", "services,secrets,gateways.networking.istio.io,"
                                   "virtualservices.networking.istio.io", "-n", ns, "-o", "json"))["items"]
    return dict(((i["kind"], i["metadata"]["name"]), i) for i in items)


def versions(lab, ns):
    return dict((key, obj["metadata"]["resourceVersion"]) for key, obj in live_objects(lab, ns).items())


def test_create_then_rerun_changes_nothing_and_sends_no_write(lab, namespace, federation):
    first = converge(lab, federation, desired_objects(namespace, federation))
    assert first["changed"] is True
    # in dependency order
    assert first["created"] == ["Namespace %s" % namespace] + ["%s %s/%s" % (kind, namespace, name) for kind, name in [
        ("Secret", "cred"), ("Service", "alias"), ("Gateway", "gw"), ("VirtualService", "vs")]]
    assert first["updated"] == first["deleted"] == first["conflicts"] == []
    assert first["api_requests"]["apply"] == 5
    assert lab.kubectl(CLUSTER, "get", "secret", "cred", "-n", namespace, "-o", "jsonpath={.data.k}") == b64("value")
    before = versions(lab, namespace)

    again = converge(lab, federation, desired_objects(namespace, federation))
    assert again["changed"] is False
    assert again["created"] == again["updated"] == again["deleted"] == []
    assert len(again["unchanged"]) == 5
    # one labelled LIST per kind (Namespace, Service, Secret, Gateway, VirtualService) and nothing else
    assert again["api_requests"] == {"list": 5, "get": 0, "apply": 0, "delete": 0}
    assert versions(lab, namespace) == before


def test_check_mode_reports_exactly_the_changes_and_leaves_the_cluster_alone(lab, namespace, federation):
    converge(lab, federation, desired_objects(namespace, federation))
    before = live_objects(lab, namespace)
    changed = desired_objects(namespace, federation, host="ratings.c3.example.com", secret_value="rotated")
    changed.append({"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "extra", "namespace": namespace, "labels": owned_labels(federation, ROLE, export="ratings")},
        "spec": {"ports": [{"name": "http", "port": 9081}]}})

    predicted = converge(lab, federation, changed, check_mode=True, diff=True)
    assert predicted["changed"] is True
    assert predicted["created"] == names(namespace, ("Service", "extra"))
    assert sorted(predicted["updated"]) == names(namespace, ("Secret", "cred"), ("Gateway", "gw"),
                                                 ("VirtualService", "vs"))
    assert predicted["deleted"] == []
    assert writes_of(predicted) == NO_WRITES
    assert live_objects(lab, namespace) == before, "check mode wrote to the cluster"
    diffs = dict((d["after_header"], d) for d in predicted["diff"])
    assert sorted(diffs) == sorted(predicted["created"] + predicted["updated"])
    assert b64("rotated") not in repr(diffs) and b64("value") not in repr(diffs)
    secret_diff = diffs["Secret %s/cred" % namespace]
    assert secret_diff["before"]["data"]["k"] != secret_diff["after"]["data"]["k"]

    done = converge(lab, federation, changed)
    assert (done["created"], sorted(done["updated"])) == (predicted["created"], sorted(predicted["updated"]))
    assert lab.kubectl(CLUSTER, "get", "virtualservices.networking.istio.io", "vs", "-n", namespace,
                       "-o", "jsonpath={.spec.hosts[0]}") == "ratings.c3.example.com"
    assert converge(lab, federation, changed)["changed"] is False


def test_object_removed_from_the_desired_set_is_pruned(lab, namespace, federation):
    converge(lab, federation, desired_objects(namespace, federation))
    remaining = [o for o in desired_objects(namespace, federation) if o["kind"] != "VirtualService"]
    result = converge(lab, federation, remaining)
    assert result["deleted"] == ["VirtualService %s/vs" % namespace]
    assert result["api_requests"]["delete"] == 1 and result["api_requests"]["apply"] == 0
    assert lab.kubectl(CLUSTER, "get", "virtualservices.networking.istio.io", "-n", namespace, "-o", "name") == ""
    # with nothing desired, the role's kinds are still listed: all of ours goes, the Namespace stays
    result = converge(lab, federation, [])
    assert sorted(result["deleted"]) == names(namespace, ("Service", "alias"), ("Secret", "cred"), ("Gateway", "gw"))
    assert live_objects(lab, namespace) == {}
    assert lab.kubectl(CLUSTER, "get", "namespace", namespace, "-o", "name").strip() == "namespace/" + namespace


def test_prune_false_keeps_what_is_no_longer_desired(lab, namespace, federation):
    converge(lab, federation, desired_objects(namespace, federation))
    result = converge(lab, federation, desired_objects(namespace, federation)[:-1], prune=False)
    assert result["deleted"] == [] and result["changed"] is False
    assert ("VirtualService", "vs") in live_objects(lab, namespace)


def test_drift_by_someone_else_is_corrected(lab, namespace, federation):
    converge(lab, federation, desired_objects(namespace, federation))
    lab.kubectl(CLUSTER, "patch", "virtualservices.networking.istio.io", "vs", "-n", namespace, "--type=merge",
                "-p", json.dumps({"spec": {"hosts": ["drifted.example.com"]}}))
    result = converge(lab, federation, desired_objects(namespace, federation))
    assert result["updated"] == ["VirtualService %s/vs" % namespace]
    assert lab.kubectl(CLUSTER, "get", "virtualservices.networking.istio.io", "vs", "-n", namespace,
                       "-o", "jsonpath={.spec.hosts[0]}") == "reviews.c3.example.com"


def test_foreign_object_is_a_conflict_left_untouched_until_force_adopts_it(lab, namespace, federation):
    without_alias = [o for o in desired_objects(namespace, federation) if o["metadata"]["name"] != "alias"]
    converge(lab, federation, without_alias)
    foreign = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "alias", "namespace": namespace, "labels": {"team": "payments"}},
               "spec": {"ports": [{"name": "web", "port": 9080}]}}
    lab.kubectl(CLUSTER, "create", "-f", "-", input=yaml.safe_dump(foreign))
    before = live_objects(lab, namespace)

    refused = run(lab, federation, desired_objects(namespace, federation))
    assert refused.failed
    assert refused.result["msg"] == (
        "cluster %s: Service %s/alias exists and is not managed by meshfed; remove it or set force=true to adopt "
        "it. Nothing was changed." % (CLUSTER, namespace))
    assert refused.result["conflicts"] == ["Service %s/alias" % namespace]
    assert writes_of(refused.result) == NO_WRITES
    assert live_objects(lab, namespace) == before  # byte for byte, resourceVersion included

    adopted = converge(lab, federation, desired_objects(namespace, federation), force=True)
    assert adopted["updated"] == ["Service %s/alias" % namespace] and adopted["conflicts"] == []
    service = live_objects(lab, namespace)[("Service", "alias")]
    assert service["metadata"]["labels"]["meshfed.io/federation"] == federation
    assert service["metadata"]["labels"]["team"] == "payments"  # adopting does not erase what we do not set
    assert [p["name"] for p in service["spec"]["ports"]] == ["http"]
    assert converge(lab, federation, desired_objects(namespace, federation))["changed"] is False


def test_several_new_objects_in_one_namespace_are_checked_with_one_list(lab, namespace, federation):
    converge(lab, federation, desired_objects(namespace, federation))
    labels = owned_labels(federation, ROLE, export="more")
    more = [{"apiVersion": ISTIO, "kind": "VirtualService",
             "metadata": {"name": "more-%d" % i, "namespace": namespace, "labels": labels},
             "spec": {"hosts": ["more-%d.example.com" % i], "tcp": [{"route": [
                 {"destination": {"host": "x.default.svc.cluster.local"}}]}]}} for i in range(3)]
    result = converge(lab, federation, desired_objects(namespace, federation) + more)
    assert result["created"] == names(namespace, *[("VirtualService", "more-%d" % i) for i in range(3)])
    # 5 labelled LISTs + 1 metadata-only LIST of VirtualServices in the namespace, no GET per object
    assert result["api_requests"] == {"list": 6, "get": 0, "apply": 3, "delete": 0}


def test_new_namespace_contents_need_no_lookup(lab, namespace, federation):
    result = converge(lab, federation, desired_objects(namespace, federation))
    # the Namespace itself is looked up (GET, not found); what goes in it cannot exist yet
    assert result["api_requests"] == {"list": 5, "get": 1, "apply": 5, "delete": 0}


def test_unreachable_api_server_is_named_with_the_cluster(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # the port is closed again once the probe socket is gone
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "gone",
              "clusters": [{"name": "gone", "cluster": {"server": "https://127.0.0.1:%d" % port,
                                                        "insecure-skip-tls-verify": True}}],
              "users": [{"name": "u", "user": {"token": "t"}}],
              "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}]}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    module = RecordingModule(str(path), "gone")
    with pytest.raises(ModuleExit) as done:
        run_apply(module, "cluster9", ROLE, [], ROLE_KINDS, "f")
    assert done.value.failed
    assert done.value.result["msg"].startswith("cluster cluster9: API server at https://127.0.0.1:%d unreachable: "
                                               % port), done.value.result["msg"]
    assert "refused" in done.value.result["msg"].lower()


def test_kind_not_served_says_its_crd_is_not_installed(lab, namespace, federation):
    widget = {"apiVersion": "fake.meshfed.io/v1", "kind": "Widget",
              "metadata": {"name": "w", "namespace": namespace, "labels": owned_labels(federation, ROLE)}}
    refused = run(lab, federation, [widget])
    assert refused.failed
    assert refused.result["msg"] == ("cluster %s: fake.meshfed.io/v1 Widget is not served; its "
                                     "CustomResourceDefinition is not installed" % CLUSTER)


def test_istio_kind_not_served_says_istio_is_not_installed(lab, federation):
    refused = run(lab, federation, [], kinds=ROLE_KINDS + [("networking.istio.io/v1", "PeerGateway")])
    assert refused.failed
    assert refused.result["msg"] == ("Istio is not installed in cluster %s (networking.istio.io/v1 PeerGateway "
                                     "not served)" % CLUSTER)


def test_forbidden_list_names_the_cluster_verb_kind_and_status(lab, namespace, federation, tmp_path):
    lab.kubectl(CLUSTER, "create", "namespace", namespace)
    lab.kubectl(CLUSTER, "create", "serviceaccount", "nobody", "-n", namespace)
    token = lab.kubectl(CLUSTER, "create", "token", "nobody", "-n", namespace, "--duration=10m").strip()
    with open(lab.kubeconfig) as f:
        lab_config = yaml.safe_load(f)
    context = [c["context"] for c in lab_config["contexts"] if c["name"] == CLUSTER][0]
    cluster = [c["cluster"] for c in lab_config["clusters"] if c["name"] == context["cluster"]][0]
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "nobody",
              "clusters": [{"name": "c", "cluster": cluster}],
              "users": [{"name": "nobody", "user": {"token": token}}],
              "contexts": [{"name": "nobody", "context": {"cluster": "c", "user": "nobody"}}]}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    module = RecordingModule(str(path), "nobody")
    with pytest.raises(ModuleExit) as done:
        run_apply(module, CLUSTER, ROLE, [], ROLE_KINDS, federation)
    assert done.value.failed
    assert done.value.result["msg"].startswith(
        "cluster %s: not allowed to list Service in all namespaces (403): " % CLUSTER), done.value.result["msg"]
    assert "system:serviceaccount:%s:nobody" % namespace in done.value.result["msg"]


def test_wait_returns_once_applied_deployments_are_available(lab, namespace, federation):
    labels = owned_labels(federation, "gateway")
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "gw", "namespace": namespace, "labels": labels},
                  "spec": {"selector": {"matchLabels": {"app": "gw"}}, "template": {
                      "metadata": {"labels": {"app": "gw"}},
                      "spec": {"containers": [{"name": "c", "image": "registry.invalid/gw:1"}]}}}}
    namespace_object = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels}}
    module = RecordingModule(lab.kubeconfig, CLUSTER, wait=True, wait_timeout=120)
    with pytest.raises(ModuleExit) as done:
        run_apply(module, CLUSTER, "gateway", [namespace_object, deployment], [("apps/v1", "Deployment")], federation)
    assert not done.value.failed, done.value.result
    assert done.value.result["created"] == ["Namespace %s" % namespace, "Deployment %s/gw" % namespace]
    conditions = json.loads(lab.kubectl(CLUSTER, "get", "deployment", "gw", "-n", namespace, "-o",
                                        "jsonpath={.status.conditions}"))
    assert {"type": "Available", "status": "True"}.items() <= [c for c in conditions if c["type"] == "Available"][0].items()
