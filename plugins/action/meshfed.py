# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action plugin of every meshfed module. On the controller it runs the module's code in the worker process,
otherwise it executes the module as usual (plugin_utils/in_process.py says when and why).

Each module has a file of its name in plugins/action that imports this one, rather than a plugin_routing entry
(``action_plugin``, or an ``action`` redirect): Ansible's main process imports the action plugin named like a task's
module when it parses the task, so every worker forks with this file and the kubernetes client already imported. An
``action_plugin`` routing is only looked at in the worker, which then imports them for every task, about a second
of CPU each (measured at K = 100: a no-op federate.yml 5.4 s -> 7.0 s); an ``action`` redirect resolves the task to
this plugin, so module_defaults of one module, or of the ``meshfed`` action group, would reach all of them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import (
    FEDERATION_INFO_MODULE, FEDERATION_LOCK_MODULE, FEDERATION_MODEL_MODULE, FEDERATION_PKI_MODULE, PEERING_BUNDLE_MODULE,
    PRIVATE_GATEWAY_MODULE, SERVICE_EXPORT_MODULE, SERVICE_IMPORT_MODULE)
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.federation_model import (
    run_federation_model)
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.federation_info import (
    run_federation_info)
from ansible_collections.meshfed.federation.plugins.module_utils.apply.client import HAS_KUBERNETES
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.federation_lock import (
    run_federation_lock)
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.peering_bundle import (
    run_peering_bundle)
from ansible_collections.meshfed.federation.plugins.module_utils.pki.certificates import HAS_CRYPTOGRAPHY
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.federation_pki import (
    run_federation_pki)
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.private_gateway import (
    run_private_gateway)
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.service_export import (
    run_service_export)
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.service_import import (
    run_service_import)
from ansible_collections.meshfed.federation.plugins.plugin_utils.in_process import (
    LOCAL_TRANSPORTS, in_process_enabled, invocation_wanted, run_in_process, shows_progress)

display = Display()

# spec: AnsibleModule's keyword arguments; run: function(module), the module's main;
# has_libraries: the module's Python dependencies import on the controller
ModuleEntry = namedtuple("ModuleEntry", ["spec", "run", "has_libraries"])

MODULES = {
    "meshfed.federation.federation_info": ModuleEntry(
        FEDERATION_INFO_MODULE, run_federation_info, HAS_KUBERNETES and HAS_CRYPTOGRAPHY),
    "meshfed.federation.federation_lock": ModuleEntry(FEDERATION_LOCK_MODULE, run_federation_lock, HAS_KUBERNETES),
    "meshfed.federation.federation_model": ModuleEntry(FEDERATION_MODEL_MODULE, run_federation_model, True),
    "meshfed.federation.federation_pki": ModuleEntry(FEDERATION_PKI_MODULE, run_federation_pki, HAS_CRYPTOGRAPHY),
    "meshfed.federation.peering_bundle": ModuleEntry(PEERING_BUNDLE_MODULE, run_peering_bundle, HAS_CRYPTOGRAPHY),
    "meshfed.federation.private_gateway": ModuleEntry(PRIVATE_GATEWAY_MODULE, run_private_gateway, HAS_KUBERNETES),
    "meshfed.federation.service_export": ModuleEntry(SERVICE_EXPORT_MODULE, run_service_export, HAS_KUBERNETES),
    "meshfed.federation.service_import": ModuleEntry(SERVICE_IMPORT_MODULE, run_service_import, HAS_KUBERNETES),
}


def module_entry(resolved_action):
    """The table's entry of the module a task resolved to (its FQCN, whatever name the task used)."""
    if resolved_action not in MODULES:
        raise AnsibleActionFail("the meshfed.federation.meshfed action plugin runs the modules %s, not %s"
                                % (", ".join(sorted(MODULES)), resolved_action))
    return MODULES[resolved_action]


class ActionModule(ActionBase):

    _supports_check_mode = True
    _supports_async = True

    def runs_on_controller(self, entry):
        return (self._connection.transport in LOCAL_TRANSPORTS
                and not self._play_context.become
                and not self._task.async_val
                and not any(self._task.environment or [])  # a list of the play's, block's, task's
                and entry.has_libraries
                and in_process_enabled())

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        entry = module_entry(self._task.resolved_action)
        if self.runs_on_controller(entry):
            result.update(run_in_process(entry.spec, entry.run, self._task.args,
                                         check_mode=bool(self._task.check_mode), diff=bool(self._task.diff),
                                         module_name=self._task.action,
                                         invocation=invocation_wanted(task_vars)))
        else:
            wrap_async = self._task.async_val and not self._connection.has_native_async
            result.update(self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
        if result.get("summary") and shows_progress():
            display.display(result["summary"])
        return result
