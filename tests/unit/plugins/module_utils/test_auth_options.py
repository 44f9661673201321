# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules' kubernetes.core connection options (args_common.AUTH_ARG_SPEC, doc fragment kubernetes_auth) are
kubernetes.core's, kubeconfig no_log whatever its version."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import os

import yaml

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC as KUBERNETES_CORE_SPEC
from ansible_collections.meshfed.federation.plugins.doc_fragments.kubernetes_auth import ModuleDocFragment
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import AUTH_ARG_SPEC

COLLECTION = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")


def test_the_options_are_kubernetes_cores_with_kubeconfig_no_log():
    assert dict(KUBERNETES_CORE_SPEC, kubeconfig=dict(KUBERNETES_CORE_SPEC["kubeconfig"], no_log=True)) == AUTH_ARG_SPEC


def test_the_doc_fragment_documents_each_option():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert sorted(documented) == sorted(AUTH_ARG_SPEC)


def test_the_modules_that_connect_document_the_options_by_our_fragment_alone():
    # the documentation must render where kubernetes.core is not installed beside the collection (Galaxy's importer,
    # ansible-doc of the installed tarball): no module names one of kubernetes.core's fragments
    modules = os.path.join(COLLECTION, "plugins", "modules")
    with open(os.path.join(COLLECTION, "meta", "runtime.yml")) as runtime:
        connecting = yaml.safe_load(runtime)["action_groups"]["meshfed"]  # the modules that reach a cluster
    for name in sorted(os.listdir(modules)):
        if not name.endswith(".py"):
            continue
        tree = ast.parse(open(os.path.join(modules, name)).read())
        docs = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
                and getattr(node.targets[0], "id", None) == "DOCUMENTATION"]
        fragments = yaml.safe_load(docs[0]).get("extends_documentation_fragment") or []
        assert not [f for f in fragments if f.startswith("kubernetes.core.")], name
        if name[:-3] in connecting:
            assert "meshfed.federation.kubernetes_auth" in fragments, name
