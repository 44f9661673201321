# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: rendered_files
short_description: One file per rendered object, for GitOps tools
version_added: 0.1.0
description:
  - Turns the C(rendered) results of the gateway, export and import modules (O(meshfed.federation.private_gateway#module:state=rendered))
    of one cluster into the files C(playbooks/render.yml) writes, C(<directory>/<role>/<kind>-<namespace>-<name>.yaml).
  - A Secret's file has mode C(0600) and is marked C(secret), so that the task writing it can hide it (C(no_log)).
options:
  _input:
    description: Role name (C(gateway), C(export), C(import)) to the list of objects rendered for it.
    type: dict
    required: true
  directory:
    description: The cluster's directory.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Write one file per object
  ansible.builtin.copy:
    dest: "{{ item.path }}"
    content: "{{ item.content }}"
    mode: "{{ item.mode }}"
  loop: "{{ {'export': exports.rendered} | meshfed.federation.rendered_files('rendered/cluster2') }}"
  no_log: "{{ item.secret }}"
"""

RETURN = r"""
_value:
  description: C({path, content, mode, secret}) per object, sorted by path.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.meshfed.federation.plugins.module_utils.apply.files import RenderFilesError, object_files
from ansible_collections.meshfed.federation.plugins.plugin_utils.inventory import plain


def rendered_files(rendered, directory):
    files = []
    try:
        for role, objects in sorted((rendered or {}).items()):
            files.extend({"path": "%s/%s/%s" % (directory.rstrip("/"), role, f["name"]), "content": f["content"],
                          "mode": "%04o" % f["mode"], "secret": f["secret"]} for f in object_files(role, plain(objects)))
    except RenderFilesError as error:
        raise AnsibleFilterError("rendered_files: %s" % error)
    return sorted(files, key=lambda f: f["path"])


class FilterModule(object):
    def filters(self):
        return {"rendered_files": rendered_files}
