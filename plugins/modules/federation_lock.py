#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: federation_lock
short_description: Take or release a federation's lock in one cluster, so that two runs never change it at once
version_added: 0.1.0
author: meshfed maintainers (@meshfed)
description:
  - The lock is a C(coordination.k8s.io/v1) Lease named C(meshfed-<federation_name>) in O(namespace) of the cluster.
    C(federate.yml), C(unfederate.yml) and C(rotate_certificates.yml) take it in every cluster before they plan
    anything and release it when they end, so that a second run of the same federation on the same cluster is
    refused (or waits, O(timeout)) before it reads or writes anything, and cannot prune what the first one creates.
    Federations of other names have other Leases and are not held up.
  - The holder is the run's C(ansible-playbook) process, C(<user>@<host> pid <pid>). With O(state=acquired), a run
    that holds the lock already renews it.
  - A lock is free when it has no holder, when it expired (its C(renewTime) plus C(leaseDurationSeconds) has passed,
    as the controller's clock tells), or when it was taken by a run on this machine whose process is gone (a run
    stopped with Ctrl-C, killed, or ended while the cluster was unreachable, so it could not release it). Such a
    lock is taken over with a warning that names its holder. A lock left by a run on another machine is taken over
    only once it expires, or with O(break_lock=true).
  - Writes carry the C(resourceVersion) they read, so two runs that race for a free lock cannot both take it.
  - The lock task reports C(changed=false), as the lock is the run's bookkeeping, not a change of the federation.
extends_documentation_fragment:
  - meshfed.federation.kubernetes_auth
  - meshfed.federation.attributes
  - meshfed.federation.attributes.actiongroup_meshfed
options:
  federation_name:
    description:
      - Name of the federation (C(meshfed_federation_name)); the Lease is C(meshfed-<federation_name>).
    type: str
    required: true
  cluster:
    description:
      - Name of the cluster (inventory host), for messages.
    type: str
    required: true
  state:
    description:
      - V(acquired) takes the lock, or renews it when this run holds it. Another run's lock fails the task after
        O(timeout) seconds, with a message naming the cluster, the Lease, its holder and when it expires.
      - V(released) deletes the Lease when this run holds it, and leaves another run's lock alone (with a warning
        when the lock was taken over while this run held it).
    type: str
    choices: [acquired, released]
    default: acquired
  namespace:
    description:
      - Namespace of the Lease. It must exist; meshfed never creates or deletes it.
    type: str
    default: kube-system
  duration:
    description:
      - C(leaseDurationSeconds) of the Lease, in seconds; a lock not released (nor renewed) within it expires.
      - Keep it longer than a run takes.
    type: int
    default: 1800
  timeout:
    description:
      - How long to wait, in seconds, for another run to release the lock (checked every 2 seconds). V(0) fails at once.
    type: int
    default: 0
  break_lock:
    description:
      - Take the lock whoever holds it. Only for a lock left by a run that is known to be over, on another machine;
        a run still going on then changes the federation at the same time as this one.
    type: bool
    default: false
notes:
  - The lock guards meshfed's playbooks against each other. Modules called directly (M(meshfed.federation.private_gateway)
    and the others) do not take it.
  - Needs C(get), C(create), C(update) and C(delete) on C(leases) in O(namespace) (docs/rbac/meshfed-lock-role.yaml is a
    Role for it).
attributes:
  check_mode:
    details: The lock is only read; a lock held by another run is reported as a warning (the check shows what would
      change now, not after that run).
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Take the federation's lock in the cluster, waiting up to 5 minutes for another run
  meshfed.federation.federation_lock:
    federation_name: bookinfo
    cluster: "{{ inventory_hostname }}"
    timeout: 300
    kubeconfig: "{{ meshfed_kubeconfig }}"
    context: "{{ meshfed_context }}"

- name: Release it
  meshfed.federation.federation_lock:
    federation_name: bookinfo
    cluster: "{{ inventory_hostname }}"
    state: released
    kubeconfig: "{{ meshfed_kubeconfig }}"
    context: "{{ meshfed_context }}"
"""

RETURN = r"""
held:
  description: Whether this run holds the lock after the task.
  returned: always
  type: bool
  sample: true
held_by:
  description: The holder of the lock that refused this run, as shown in messages.
  returned: when another run holds the lock
  type: str
  sample: ci@runner-7 pid 311
lease:
  description: The Lease, as C(<namespace>/<name>).
  returned: always
  type: str
  sample: kube-system/meshfed-bookinfo
holder:
  description: This run's holder identity, as shown in messages.
  returned: always
  type: str
  sample: ops@laptop pid 4242
expires:
  description: When the lock expires unless renewed or released (UTC).
  returned: when O(state=acquired) and the lock was taken
  type: str
  sample: "2026-12-02T13:30:00.000000Z"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import FEDERATION_LOCK_MODULE
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.federation_lock import (
    run_federation_lock)


def main():
    run_federation_lock(AnsibleModule(**FEDERATION_LOCK_MODULE))


if __name__ == "__main__":
    main()
