# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a meshfed module's code inside the controller's worker process when Ansible would run the module on the
controller anyway (``ansible_connection: local``, the way meshfed is used: the hosts are clusters, the API
calls leave from the controller).

Why: executing a module means a new Python process that imports the kubernetes client again (about a second
of CPU) for every cluster and every role. The action plugin of meshfed's modules (plugins/action/meshfed.py), which
Ansible loads in its main process, imports it once; each worker is a fork of that process and starts warm. The
module's code is the same function either way (see module_utils/module_backends/cluster_role.py), given a module-like object instead of
AnsibleModule.

Anything that needs the module to run as a separate process falls back to the ordinary module execution:
a remote or delegated non-local connection, become, async, task ``environment``, a controller without
the module's Python libraries, or ``MESHFED_IN_PROCESS=false`` in the controller's environment.

Either way, a result's ``summary`` (the progress line of a cluster role, module_utils/apply/progress.py) is displayed
as the task ends, at default verbosity, unless the stdout callback writes JSON (a line would break its document).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible import constants as C
from ansible.module_utils.common.arg_spec import ModuleArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.parsing.convert_bool import boolean

LOCAL_TRANSPORTS = ("local", "ansible.builtin.local")
# stdout callbacks whose output is one JSON document (or one per line): no progress line among it
JSON_CALLBACKS = ("json", "jsonl", "ansible.posix.json", "ansible.posix.jsonl")
SPEC_KEYWORDS = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")


class ModuleExit(BaseException):
    """exit_json/fail_json of an in-process module: ends the module's code like SystemExit ends a module."""

    def __init__(self, result):
        super(ModuleExit, self).__init__()
        self.result = result


class InProcessModule(object):
    """The part of AnsibleModule meshfed's module code uses."""

    def __init__(self, params, check_mode, diff):
        self.params = params
        self.check_mode = check_mode
        self._diff = diff
        self.warnings = []
        self.deprecations = []

    def warn(self, warning):
        self.warnings.append(warning)

    def deprecate(self, msg, version=None, collection_name=None):
        self.deprecations.append({"msg": msg, "version": version, "collection_name": collection_name})

    def exit_json(self, **result):
        result.setdefault("changed", False)
        raise ModuleExit(result)

    def fail_json(self, msg, **result):
        result.update(failed=True, msg=msg)
        raise ModuleExit(result)


def in_process_enabled(environ=None):
    return boolean((environ if environ is not None else os.environ).get("MESHFED_IN_PROCESS", "true"), strict=False)


def shows_progress(stdout_callback=None):
    """Whether a progress line may go to stdout: not when the stdout callback is a JSON one."""
    return (stdout_callback or C.DEFAULT_STDOUT_CALLBACK) not in JSON_CALLBACKS


def invocation_wanted(task_vars=None):
    """Whether a module's result carries ``invocation``, as ansible-core would add it: 2.21 and later only when
    INJECT_INVOCATION is on, the ones before it always (they have no such setting)."""
    if "INJECT_INVOCATION" not in C.config.get_configuration_definitions():
        return True
    return bool(C.config.get_config_value("INJECT_INVOCATION", variables=task_vars))


def no_log_values(argument_spec, params):
    """The values of the ``no_log`` options in ``params`` (validated: fallbacks and defaults applied), suboptions
    included, as strings: what AnsibleModule removes from a result, found with no private API."""
    found = set()
    for name, option in argument_spec.items():
        value = (params or {}).get(name)
        if value is None:
            continue
        if option.get("no_log"):
            found.update(_secret_strings(value))
        if option.get("options"):
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    found.update(no_log_values(option["options"], item))
    return found


def _secret_strings(value):
    """Every leaf of a no_log value (an inline kubeconfig: its tokens and keys) as a string."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple, set)):
        return set().union(*[_secret_strings(item) for item in value])
    if value is None or isinstance(value, bool) or value == "":
        return set()
    return {str(value)}


def validate_args(module_spec, args, module_name):
    """(validation result, error message or None) as AnsibleModule would check ``args``."""
    keywords = dict((k, module_spec[k]) for k in SPEC_KEYWORDS if k in module_spec)
    validated = ModuleArgumentSpecValidator(module_spec["argument_spec"], **keywords).validate(args)
    if not validated.error_messages:
        return validated, None
    msg = validated.errors.msg
    if isinstance(validated.errors[0], UnsupportedError):
        msg = "Unsupported parameters for (%s) module: %s" % (module_name, msg)
    return validated, msg


def run_in_process(module_spec, run_module, args, check_mode, diff, module_name="module", invocation=True):
    """The result the module would return for ``args``, computed in this process; ``invocation``: whether it
    carries one (invocation_wanted)."""
    validated, error = validate_args(module_spec, args, module_name)
    secrets = no_log_values(module_spec["argument_spec"], validated.validated_parameters)
    if error:
        return remove_values({"failed": True, "msg": error}, secrets)
    module = InProcessModule(validated.validated_parameters, check_mode, diff)
    try:
        run_module(module)
        result = {"failed": True, "msg": "module returned without exit_json or fail_json"}
    except ModuleExit as end:
        result = end.result
    if module.warnings:
        result["warnings"] = result.get("warnings", []) + module.warnings
    if module.deprecations:
        result["deprecations"] = result.get("deprecations", []) + module.deprecations
    if invocation:
        result["invocation"] = {"module_args": validated.validated_parameters}
    # remove_values walks the whole result (the federation may be in the invocation): only when there is a secret
    return remove_values(result, secrets) if secrets else result
