# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rendered_files filter: one file per object, Secrets private."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.meshfed.federation.plugins.filter.rendered_files import rendered_files


def obj(kind, name, namespace=None):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": kind, "metadata": meta}


def test_one_file_per_object_named_by_role_kind_namespace_and_name():
    files = rendered_files({"gateway": [obj("Namespace", "gw"), obj("Secret", "certs", "gw")],
                            "import": [obj("Service", "reviews", "default")]}, "out/cluster1/")
    assert [(f["path"], f["mode"], f["secret"]) for f in files] == [
        ("out/cluster1/gateway/namespace-cluster-gw.yaml", "0644", False),
        ("out/cluster1/gateway/secret-gw-certs.yaml", "0600", True),
        ("out/cluster1/import/service-default-reviews.yaml", "0644", False)]
    assert yaml.safe_load(files[2]["content"]) == obj("Service", "reviews", "default")


def test_what_is_not_an_object_or_would_share_a_file_is_refused():
    with pytest.raises(AnsibleFilterError, match="export objects are not Kubernetes objects"):
        rendered_files({"export": [{"kind": "Gateway"}]}, "out")
    with pytest.raises(AnsibleFilterError, match="two import objects would be written to service-a-b.yaml"):
        rendered_files({"import": [obj("Service", "b", "a"), obj("Service", "b", "a")]}, "out")
