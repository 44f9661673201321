# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster_preflight module's action: the preflight of the private_gateway, service_export and service_import
modules of one cluster, one after the other in one task (a task round each is what a no-op run of federate.yml
spent most of its fixed time on). Each role's module runs as its own task would run it: in this worker when the
meshfed action plugin would (plugin_utils/in_process.py), otherwise executed as a module. The first that fails ends
the task, as a failed role task ends the cluster's play."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.meshfed.federation.plugins.action.meshfed import ActionModule as ModuleAction
from ansible_collections.meshfed.federation.plugins.action.meshfed import module_entry
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import CLUSTER_PREFLIGHT_MODULE
from ansible_collections.meshfed.federation.plugins.plugin_utils.cluster_preflight import (
    ROLES, combined_result, role_args, role_module)
from ansible_collections.meshfed.federation.plugins.plugin_utils.in_process import (
    invocation_wanted, no_log_values, run_in_process, shows_progress, validate_args)
from ansible.module_utils.common.parameters import remove_values

display = Display()


class ActionModule(ModuleAction):

    # the role modules run one after the other within the task: no async job of their own (module docs: async none)
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = ActionBase.run(self, tmp, task_vars)
        del tmp
        validated, error = validate_args(CLUSTER_PREFLIGHT_MODULE, self._task.args, self._task.action)
        if error:
            secrets = no_log_values(CLUSTER_PREFLIGHT_MODULE["argument_spec"], validated.validated_parameters)
            result.update(remove_values({"failed": True, "msg": error}, secrets))
            return result
        params = validated.validated_parameters
        results = []
        for role in [r for r in ROLES if r in params["roles"]]:
            results.append((role, self.run_role(role, role_args(params, role), task_vars)))
            if results[-1][1].get("failed"):
                break
        self._remove_tmp_path(self._connection._shell.tmpdir)
        result.update(combined_result(results))
        return result

    def run_role(self, role, args, task_vars):
        """The result of the role's module for ``args``, its progress line shown as its own task shows it."""
        name = role_module(role)
        entry = module_entry(name)
        if self.runs_on_controller(entry):
            outcome = run_in_process(entry.spec, entry.run, args, check_mode=bool(self._task.check_mode),
                                     diff=bool(self._task.diff), module_name=name,
                                     invocation=invocation_wanted(task_vars))
        else:
            outcome = self._execute_module(module_name=name, module_args=args, task_vars=task_vars)
        outcome["action"] = name
        if outcome.get("summary") and shows_progress():
            display.display(outcome["summary"])
        return outcome
