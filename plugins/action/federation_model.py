# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the federation_model module's code in the controller's worker process (see plugin_utils/in_process.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.args_common import FEDERATION_MODEL_MODULE
from ansible_collections.meshfed.federation.plugins.module_utils.federation import run_federation_model
from ansible_collections.meshfed.federation.plugins.plugin_utils.in_process import InProcessModuleAction


class ActionModule(InProcessModuleAction):
    MODULE_SPEC = FEDERATION_MODEL_MODULE
    RUN_MODULE = staticmethod(run_federation_model)
