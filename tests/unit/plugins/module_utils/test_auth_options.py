# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules' kubernetes.core connection options (args_common.AUTH_ARG_SPEC, doc fragment kubernetes_auth) are
kubernetes.core's, kubeconfig no_log whatever its version."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import yaml

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC as KUBERNETES_CORE_SPEC
from ansible_collections.meshfed.federation.plugins.doc_fragments.kubernetes_auth import ModuleDocFragment
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import AUTH_ARG_SPEC


def test_the_options_are_kubernetes_cores_with_kubeconfig_no_log():
    assert dict(KUBERNETES_CORE_SPEC, kubeconfig=dict(KUBERNETES_CORE_SPEC["kubeconfig"], no_log=True)) == AUTH_ARG_SPEC


def test_the_doc_fragment_documents_each_option():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert sorted(documented) == sorted(AUTH_ARG_SPEC)
