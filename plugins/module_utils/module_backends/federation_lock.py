# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation_lock module's work: acquire or release the federation's Lease in one cluster."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from datetime import timedelta
import time
from ansible_collections.meshfed.federation.plugins.module_utils.apply.lock import (
    EPOCH, HELD, LockHeld, acquire, decide, expires_at, format_time, lease_name, lease_ref, process_alive,
    refusal_message, release, shown_holder, this_run)
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import auth_params
from ansible_collections.meshfed.federation.plugins.module_utils.apply.client import (
    ClusterClient, ClusterError, kubernetes_missing)


def run_federation_lock(module):
    """state=acquired or released, see the federation_lock module."""
    if kubernetes_missing():
        module.fail_json(msg=kubernetes_missing())
    params = module.params
    cluster, federation_name, namespace = params["cluster"], params["federation_name"], params["namespace"]
    name = lease_name(federation_name)
    me, host = this_run()
    result = {"changed": False, "lease": "%s/%s" % (namespace, name), "holder": shown_holder(me)}
    if not params["duration"] > 0 or params["timeout"] < 0:
        module.fail_json(msg="cluster %s: the lock's duration must be a positive number of seconds and its timeout "
                             "zero or more (meshfed_lock_duration %s, meshfed_lock_timeout %s)"
                             % (cluster, params["duration"], params["timeout"]), held=False, **result)
    try:
        client = ClusterClient(cluster, auth_params(params))
        if module.check_mode:
            # a check run writes nothing, the lock included; it says when its plan may be out of date
            lease = client.get(lease_ref(name, namespace))
            now = EPOCH + timedelta(seconds=time.time())
            if lease is not None and decide(lease, me, now, host, process_alive, False)[0] == HELD:
                module.warn(refusal_message(cluster, federation_name, lease, now, 0).split(". Nothing")[0] +
                            "; this check shows what would change now, not after that run")
            module.exit_json(held=False, **result)
        if params["state"] == "released":
            warning = release(client, name, namespace, me)
            if warning:
                module.warn("cluster %s: %s" % (cluster, warning))
            module.exit_json(held=False, **result)
        lease, warning = acquire(client, name, namespace, federation_name, me, host, params["duration"],
                                 params["timeout"], params["break_lock"])
    except LockHeld as error:
        module.fail_json(msg=str(error), held=False, held_by=error.holder, **result)
    except ClusterError as error:
        module.fail_json(msg=str(error), held=False, **result)
    if warning:
        module.warn("cluster %s: %s" % (cluster, warning))
    module.exit_json(held=True, expires=format_time(expires_at(lease)), **result)
