# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federated_cluster module's action: the private_gateway, service_export and service_import modules of one
cluster, one after the other in one task (a task round each, and a round for each role's variable check, is what
federate.yml spent most of its fixed time on). First the roles' variables are checked as each role's own argument
specification checks them. Then each role's module runs as its own task would run it: in this worker when the meshfed
action plugin would (plugin_utils/in_process.py), otherwise executed as a module. The first that fails ends the task,
as a failed role task ends the cluster's play."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.meshfed.federation.plugins.action.meshfed import ActionModule as ModuleAction
from ansible_collections.meshfed.federation.plugins.action.meshfed import module_entry
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import (
    CLUSTER_ROLES, FEDERATED_CLUSTER_MODULE)
from ansible_collections.meshfed.federation.plugins.plugin_utils.federated_cluster import (
    combined_result, role_args, role_module, roles_to_run)
from ansible_collections.meshfed.federation.plugins.plugin_utils.in_process import (
    invocation_wanted, no_log_values, run_in_process, shows_progress, validate_args)
from ansible_collections.meshfed.federation.plugins.plugin_utils.role_variables import (
    role_argument_spec, role_variable_errors)

display = Display()


class ActionModule(ModuleAction):

    # the role modules run one after the other within the task: no async job of their own (module docs: async none)
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = ActionBase.run(self, tmp, task_vars)
        del tmp
        validated, error = validate_args(FEDERATED_CLUSTER_MODULE, self._task.args, self._task.action)
        if error:
            secrets = no_log_values(FEDERATED_CLUSTER_MODULE["argument_spec"], validated.validated_parameters)
            result.update(remove_values({"failed": True, "msg": error}, secrets))
            return result
        params = validated.validated_parameters
        errors = self.role_variable_errors(CLUSTER_ROLES, task_vars or {})
        if errors:
            result.update(failed=True, msg="Validation of arguments failed:\n%s" % "\n".join(errors),
                          argument_errors=errors)
            return result
        results = []
        for role in roles_to_run(params):
            results.append((role, self.run_role(role, role_args(params, role), task_vars)))
            if results[-1][1].get("failed"):
                break
        self._remove_tmp_path(self._connection._shell.tmpdir)
        result.update(combined_result(results))
        return result

    def role_variable_errors(self, roles, task_vars):
        """What ansible.builtin.validate_argument_spec would say of the roles' variables that are set (the roles'
        defaults come from their ``variables`` entry point, imported without tasks): the values their tasks would
        template into the options of this task. Every cluster role's, whichever roles this task runs: a bad variable of
        the imports stops a run before the task that plans the gateways alone reads a cluster."""
        spec = role_argument_spec(roles)
        variables = self._templar.template(dict((name, task_vars[name]) for name in spec if name in task_vars))
        return role_variable_errors(spec, variables)

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
        if args["preflight"]:
            # as the role module marks its preflight's results, failed ones too (a refused option's included)
            outcome["preflight"] = True
        if outcome.get("summary") and shows_progress():
            display.display(outcome["summary"])
        return outcome
