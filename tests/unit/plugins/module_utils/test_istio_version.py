# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One private key per cluster on Istio 1.28 or later: the ingress servers take each consumer party's CA from a
CA-only Secret (caCertCredentialName); older Istio, or an unknown version, keeps one key copy per party."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.model.istio_version import (
    image_tag, istiod_version, parse_version, separates_ca)
from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import FederationModelError
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import render_gateways
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_export import render_exports
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.scenarios import (
    settings, three_clusters)

CREDENTIAL = {"cert": "CERT3", "key": "KEY3", "ca": "CA-OWN",
              "party_cas": {"cluster1": "CA-1", "cluster2": "CA-2", "cluster3": "CA-3"}}


def per_cluster(**values):
    """Three clusters, each a party of its own: cluster2 exports to cluster1 and imports from cluster3; cluster3
    exports to cluster1 and cluster2 and imports nothing."""
    return build_model(three_clusters(), settings(federation_name="demo", ca_scope="cluster", **values))


def secrets(federation, cluster, version):
    return dict((o["metadata"]["name"], dict((k, base64.b64decode(v).decode()) for k, v in o["data"].items()))
                for o in render_gateways(federation, cluster, CREDENTIAL, version) if o["kind"] == "Secret")


def holding_the_key(found):
    return sorted(name for name, data in found.items() if "tls.key" in data)


def server_tls(federation, cluster, export, version):
    gateway = [o for o in render_exports(federation, cluster, version)
               if o["kind"] == "Gateway" and o["metadata"]["name"] == "meshfed-export-" + export][0]
    return dict((server["hosts"][0], server["tls"]) for server in gateway["spec"]["servers"])


def test_an_exporting_cluster_on_istio_1_28_holds_its_key_in_one_secret_and_each_consumers_ca_alone():
    found = secrets(per_cluster(), "cluster3", (1, 28))
    assert holding_the_key(found) == ["c3-example-com-certs"]
    assert found["c3-example-com-certs"] == {"tls.crt": "CERT3", "tls.key": "KEY3", "ca.crt": "CA-OWN"}
    assert found["c3-example-com-cluster1-certs-cacert"] == {"ca.crt": "CA-1"}
    assert found["c3-example-com-cluster2-certs-cacert"] == {"ca.crt": "CA-2"}
    assert len(found) == 3
    # before: the key once more per consumer party
    assert holding_the_key(secrets(per_cluster(), "cluster3", (1, 27))) == [
        "c3-example-com-certs", "c3-example-com-cluster1-certs", "c3-example-com-cluster2-certs"]


def test_each_server_presents_the_one_certificate_and_trusts_its_consumer_partys_ca_only():
    tls = server_tls(per_cluster(), "cluster3", "postgres", (1, 31))
    assert tls == {"./postgres.cluster2.c3.example.com": {
        "mode": "MUTUAL", "credentialName": "c3-example-com-certs",
        "caCertCredentialName": "c3-example-com-cluster2-certs-cacert", "subjectAltNames": ["c2.example.com"]}}
    (helloworld,) = server_tls(per_cluster(), "cluster3", "helloworld", (1, 31)).values()
    assert helloworld["caCertCredentialName"] == "c3-example-com-cluster1-certs-cacert"


def test_the_egress_keeps_a_key_copy_per_party_it_dials_a_destination_rule_has_no_ca_cert_credential_name():
    found = secrets(per_cluster(), "cluster2", (1, 28))
    assert holding_the_key(found) == ["c2-example-com-certs", "c2-example-com-cluster3-certs"]
    assert found["c2-example-com-cluster3-certs"]["ca.crt"] == "CA-3"
    assert found["c2-example-com-cluster1-certs-cacert"] == {"ca.crt": "CA-1"}
    assert server_tls(per_cluster(), "cluster2", "helloworld", (1, 28))["./helloworld.cluster1.c2.example.com"][
        "caCertCredentialName"] == "c2-example-com-cluster1-certs-cacert"


@pytest.mark.parametrize("version", [None, (1, 27), (0, 99)])
def test_older_or_unknown_istio_renders_as_before(version):
    federation = per_cluster()
    for cluster in ("cluster2", "cluster3"):
        assert render_gateways(federation, cluster, CREDENTIAL, version) == render_gateways(federation, cluster, CREDENTIAL)
        assert render_exports(federation, cluster, version) == render_exports(federation, cluster)
    assert all("caCertCredentialName" not in tls for tls in server_tls(federation, "cluster3", "postgres", (1, 27)).values())


def test_mounted_certificates_render_as_before_on_any_istio():
    federation = per_cluster(cert_delivery="file")
    assert render_gateways(federation, "cluster3", CREDENTIAL, (1, 31)) == render_gateways(federation, "cluster3", CREDENTIAL)
    assert render_exports(federation, "cluster3", (1, 31)) == render_exports(federation, "cluster3")


def test_one_party_federation_needs_no_ca_secret():
    federation = build_model(three_clusters(), settings(federation_name="demo"))
    found = secrets(federation, "cluster3", (1, 31))
    assert list(found) == ["c3-example-com-certs"]
    assert all("caCertCredentialName" not in tls for tls in server_tls(federation, "cluster3", "postgres", (1, 31)).values())


def test_istiods_version_comes_from_its_label_else_its_image_tag():
    def istiod(labels=None, image=None, name="discovery"):
        return {"metadata": {"labels": labels or {}},
                "spec": {"template": {"spec": {"containers": [{"name": name, "image": image}]}}}}
    assert istiod_version(istiod({"app.kubernetes.io/version": "1.28.1"}, "docker.io/istio/pilot:1.27.0")) == (1, 28)
    assert istiod_version(istiod(image="docker.io/istio/pilot:1.29.0-distroless")) == (1, 29)
    assert istiod_version(istiod(image="registry.local:5000/mesh/pilot:1.31.2")) == (1, 31)
    assert istiod_version(istiod(image="gcr.io/istio-release/pilot@sha256:0123")) is None
    assert istiod_version(istiod(image="registry.local:5000/mesh/pilot")) is None
    assert istiod_version(istiod(image="docker.io/istio/pilot:latest")) is None
    assert istiod_version(istiod(image="example/pilot:1.30.0", name="other")) == (1, 30)
    assert istiod_version(None) is None
    assert image_tag("istio/pilot:1.28.0@sha256:abc") == "1.28.0"
    assert parse_version("v1.28.0") == (1, 28) and parse_version("1.28") == (1, 28) and parse_version(1.28) is None
    assert separates_ca((1, 28), "sds") and not separates_ca((1, 27), "sds") and not separates_ca((1, 31), "file")
    assert not separates_ca(None, "sds")


@pytest.mark.parametrize("value, ok", [("auto", True), ("1.28", True), ("1.30.2", True), (1.3, False),
                                       ("latest", False), ("", False)])
def test_the_istio_version_setting_is_auto_or_a_quoted_version(value, ok):
    if ok:
        assert build_model(three_clusters(), settings(istio_version=value)).settings.istio_version == value
        return
    with pytest.raises(FederationModelError) as raised:
        build_model(three_clusters(), settings(istio_version=value))
    assert raised.value.errors == [
        "settings: meshfed_istio_version %r must be auto or an Istio version such as \"1.28\" (quoted: YAML reads 1.30 "
        "as the number 1.3)" % value]
