# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  force:
    description:
      - Adopt objects that stand where meshfed wants one of its objects but do not carry meshfed's ownership labels.
      - When V(false), such objects are reported in C(conflicts), the module fails naming them, and nothing is
        changed in the cluster.
    type: bool
    default: false
  prune:
    description:
      - Delete objects of this role that meshfed owns in the cluster and the federation no longer wants.
    type: bool
    default: true
  wait:
    description:
      - Wait until the Deployments of this role report an available replica.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait when O(wait=true).
    type: int
    default: 300
notes:
  - Objects are listed once per kind with meshfed's ownership label selector; an object whose applied content and
    fields are unchanged causes no write request. Writes use server-side apply with the field manager C(meshfed).
  - Check mode reads the cluster and reports exactly what a real run would create, update and delete; it writes
    nothing. Diff mode shows before/after per object, with Secret values replaced by a short hash.
"""
