# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the service_export module's code in the controller's worker process (see plugin_utils/in_process.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.args_common import SERVICE_EXPORT_MODULE
from ansible_collections.meshfed.federation.plugins.module_utils.runner import run_service_export
from ansible_collections.meshfed.federation.plugins.module_utils.kube_client import HAS_KUBERNETES
from ansible_collections.meshfed.federation.plugins.plugin_utils.in_process import InProcessModuleAction


class ActionModule(InProcessModuleAction):
    MODULE_SPEC = SERVICE_EXPORT_MODULE
    RUN_MODULE = staticmethod(run_service_export)
    HAS_LIBRARIES = HAS_KUBERNETES
