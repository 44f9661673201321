# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the federation_pki module's code in the controller's worker process (see plugin_utils/in_process.py):
the CA key is read and written by the controller itself."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.args_common import FEDERATION_PKI_MODULE
from ansible_collections.meshfed.federation.plugins.module_utils.pki_directory import run_federation_pki
from ansible_collections.meshfed.federation.plugins.module_utils.pki import HAS_CRYPTOGRAPHY
from ansible_collections.meshfed.federation.plugins.plugin_utils.in_process import InProcessModuleAction


class ActionModule(InProcessModuleAction):
    MODULE_SPEC = FEDERATION_PKI_MODULE
    RUN_MODULE = staticmethod(run_federation_pki)
    HAS_LIBRARIES = HAS_CRYPTOGRAPHY
