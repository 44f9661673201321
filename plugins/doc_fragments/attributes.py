# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Every meshfed module; a module's own attributes entry overrides support and details where it differs.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the
      controller.
    support: full
    details:
      - On a local connection the collection's action plugin runs the module's code in Ansible's worker process,
        without a new Python process for every cluster and role.
      - A remote connection, C(become), C(async), a task C(environment), missing Python libraries on the controller
        or C(MESHFED_IN_PROCESS=false) in the controller's environment run the module as usual.
  async:
    description: Supports being used with the C(async) keyword.
    support: full
"""

    ACTIONGROUP_MESHFED = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/meshfed.federation.meshfed) in C(module_defaults) to set defaults for this module, for
      example the C(kubeconfig) and C(context) of a cluster.
    support: full
    membership:
      - meshfed.federation.meshfed
"""
