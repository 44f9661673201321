# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  state:
    description:
      - V(present) converges the cluster to exactly the objects the federation wants for this role, deleting
        those it owns and no longer wants.
      - V(absent) deletes every object of this role that meshfed owns in the cluster.
      - V(rendered) returns the objects a V(present) run would apply, as RV(rendered), without contacting any
        cluster (for GitOps tools such as Argo CD or Flux; C(playbooks/render.yml) writes them to files).
    type: str
    choices: [present, absent, rendered]
    default: present
  render_dir:
    description:
      - With O(state=rendered), also write the objects into this directory on the host the module runs on (the
        controller with C(delegate_to=localhost)), one file per object,
        C(<render_dir>/<cluster>/<role>/<kind>-<namespace>-<name>.yaml) with the role C(gateway), C(export) or
        C(import); a Secret's file has mode 0600, the others 0644.
      - The role's directory then holds exactly the objects rendered; its other C(*.yaml) files (objects the
        federation no longer renders) are removed. Files are replaced whole, and only when their content or mode
        differs, so the task reports C(changed) only then; check mode writes nothing.
      - Only with O(state=rendered).
    type: path
  force:
    description:
      - Adopt objects that stand where meshfed wants one of its objects but do not carry meshfed's ownership labels.
      - When V(false), such objects are reported in C(conflicts), the module fails naming them, and nothing is
        changed in the cluster.
      - When V(true), they are updated with meshfed's labels and content; server-side apply takes over the
        fields meshfed sets from their previous field managers.
      - Objects meshfed does not own that use a host of an import (C(host_conflicts) of the import role) stop the run
        as well unless V(true); forced, they are reported as a warning and left as they are.
    type: bool
    default: false
  prune:
    description:
      - Delete objects of this role that meshfed owns in the cluster and the federation no longer wants.
      - Only objects carrying meshfed's ownership labels for this federation and role are ever deleted, each with
        a precondition on its uid. Namespaces are never pruned.
    type: bool
    default: true
  wait:
    description:
      - Wait until the Deployments this run created or updated report the condition C(Available) for their
        current generation.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait when O(wait=true).
    type: int
    default: 300
  preflight:
    description:
      - Only plan, with the very code a run plans with, and write nothing; what would stop the run (objects in the
        way, host conflicts unless O(force=true)) is returned as data (RV(blocked), RV(conflict_reasons),
        RV(conflicts)) instead of failing the task. A cluster that cannot be read fails the task as a run would.
      - C(playbooks/federate.yml) runs every role of every cluster so before it changes any, and stops all of them
        when one is blocked; when none of them plans a write (RV(changes) 0 everywhere), it skips the run.
      - It gives the warnings the run would give (mesh settings, host conflicts let through by O(force=true)).
      - An import's peer address that discovery has not found yet does not fail the preflight; what a preflight
        looks for does not depend on it.
    type: bool
    default: false
notes:
  - Objects are listed once per kind, in all namespaces, with meshfed's ownership label selector; an object whose
    fields set by meshfed all have meshfed's value causes no write request, so a run with nothing to do sends no
    write at all. Writes use server-side apply with the field manager C(meshfed); updates of meshfed's own
    objects take back fields someone changed (for example with C(kubectl edit)).
  - The result's C(api_requests) counts the requests sent, by verb (discovery, cached on disk by kubernetes.core,
    is not counted).
  - Check mode reads the cluster and reports exactly what a real run would create, update and delete; it writes
    nothing. Diff mode shows before/after per object, with Secret values replaced by a short hash.
"""
