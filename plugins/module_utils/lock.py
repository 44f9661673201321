# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation lock: a coordination.k8s.io Lease per federation in each cluster, held by one playbook run at a
time, so that two runs never apply (or prune) one federation's objects in a cluster at once.

The holder is the run's ansible-playbook process: ``<user>@<host> pid <pid> start <ticks>`` (its start time in
clock ticks since boot tells a live process from a later one that got the same pid). A lock is free when it has no
holder, when its renewTime plus leaseDurationSeconds has passed, or when its holder ran on this machine and that
process is gone (a run interrupted with Ctrl-C, killed, or stopped by a cluster that went away before it could
release): the next run on the same controller takes it over, with a warning. A lock left by a run on another
machine is taken only once it expires, or with ``break_lock``. Writes carry the resourceVersion they read, so two
runs racing for one lock cannot both win it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import getpass
import os
import re
import socket
import time
from datetime import datetime, timedelta

from ansible_collections.meshfed.federation.plugins.module_utils.args_common import auth_params
from ansible_collections.meshfed.federation.plugins.module_utils.kube_client import (
    ClusterClient, ClusterError, kubernetes_missing)
from ansible_collections.meshfed.federation.plugins.module_utils.labels import FEDERATION, MANAGED_BY, MANAGED_BY_VALUE

LEASE_API = "coordination.k8s.io/v1"
HOLDER = re.compile(r"^(?P<user>.*)@(?P<host>[^@ ]+) pid (?P<pid>\d+) start (?P<start>\d+)$")
MICRO_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
POLL_SECONDS = 2.0
EPOCH = datetime(1970, 1, 1)

# what acquire does with a Lease it read (decide)
CREATE, RENEW, TAKE, HELD = "create", "renew", "take", "held"


def lease_name(federation_name):
    return "meshfed-%s" % federation_name


def lease_ref(name, namespace):
    """What ClusterClient.get needs to read the Lease."""
    return {"apiVersion": LEASE_API, "kind": "Lease", "metadata": {"name": name, "namespace": namespace}}


def holder_identity(user, host, pid, start):
    return "%s@%s pid %d start %d" % (user, host, pid, start)


def parse_holder(identity):
    """(host, pid, start) of a holder meshfed wrote, else None (a holder someone else wrote)."""
    found = HOLDER.match(identity or "")
    return (found.group("host"), int(found.group("pid")), int(found.group("start"))) if found else None


def shown_holder(identity):
    """The holder as people read it: without the start ticks."""
    return re.sub(r" start \d+$", "", identity or "")


class LockHeld(ClusterError):
    """Another run holds the lock: the message says who, and ``holder`` is it, as shown."""

    def __init__(self, message, holder):
        super(LockHeld, self).__init__(message)
        self.holder = holder


# --- this run's process ---

def read_stat(pid):
    """(parent pid, start time in clock ticks) of a process, else None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except (IOError, OSError):
        return None
    fields = text[text.rindex(")") + 2:].split()  # the command, in parentheses, may hold spaces
    return int(fields[1]), int(fields[19])


def read_argv(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
    except (IOError, OSError):
        return []


def is_playbook(argv):
    return any(os.path.basename(arg) == "ansible-playbook" for arg in argv[:2])


def run_process(pid, stat=read_stat, argv=read_argv):
    """(pid, start) of the ansible-playbook process this module runs under: the first of its ancestors that runs
    ansible-playbook, and above it while the parent does too (the workers are forks of the main process). None when
    there is none (a module run by hand)."""
    found = None
    seen = 0
    while pid > 1 and seen < 64:
        info = stat(pid)
        if info is None:
            break
        if is_playbook(argv(pid)):
            found = (pid, info[1])
        elif found:
            break
        pid = info[0]
        seen += 1
    return found


def process_alive(pid, start, stat=read_stat):
    info = stat(pid)
    return info is not None and info[1] == start


# --- the decision, pure ---

def parse_time(text):
    try:
        return datetime.strptime(text, MICRO_TIME)
    except (TypeError, ValueError):
        try:
            return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
        except (TypeError, ValueError):
            return None


def format_time(moment):
    return moment.strftime(MICRO_TIME)


def expires_at(lease):
    spec = lease.get("spec") or {}
    renewed = parse_time(spec.get("renewTime") or spec.get("acquireTime"))
    if renewed is None:
        return None
    return renewed + timedelta(seconds=int(spec.get("leaseDurationSeconds") or 0))


def decide(lease, me, now, host, alive, break_lock):
    """What to do with the Lease read (None: there is none) and why: (CREATE | RENEW | TAKE | HELD, reason).
    ``alive(pid, start)`` says whether a process of this machine still runs."""
    if lease is None:
        return CREATE, None
    holder = (lease.get("spec") or {}).get("holderIdentity")
    if not holder:
        return TAKE, None
    if holder == me:
        return RENEW, None
    expiry = expires_at(lease)
    if expiry is not None and expiry <= now:
        return TAKE, "took over the lock of %s, which expired at %sZ" % (shown_holder(holder), expiry.isoformat())
    parsed = parse_holder(holder)
    if parsed and parsed[0] == host and not alive(parsed[1], parsed[2]):
        return TAKE, ("took over the lock of %s: that run ended without releasing it (interrupted, killed, or this "
                      "cluster was unreachable when it ended)" % shown_holder(holder))
    if break_lock:
        return TAKE, "broke the lock of %s (break_lock)" % shown_holder(holder)
    return HELD, None


def lease_object(name, namespace, federation_name, me, duration, now, previous=None):
    """The Lease this run writes, over ``previous`` (the one read) when there is one."""
    same_holder = previous is not None and (previous.get("spec") or {}).get("holderIdentity") == me
    acquired = (previous["spec"].get("acquireTime") if same_holder else None) or format_time(now)
    metadata = {"name": name, "namespace": namespace,
                "labels": {MANAGED_BY: MANAGED_BY_VALUE, FEDERATION: federation_name}}
    if previous is not None:
        metadata["resourceVersion"] = previous["metadata"]["resourceVersion"]
    transitions = int((previous or {}).get("spec", {}).get("leaseTransitions") or 0)
    return {"apiVersion": LEASE_API, "kind": "Lease", "metadata": metadata,
            "spec": {"holderIdentity": me, "leaseDurationSeconds": duration, "acquireTime": acquired,
                     "renewTime": format_time(now),
                     "leaseTransitions": transitions if same_holder or previous is None else transitions + 1}}


def refusal_message(cluster, federation_name, lease, now, waited):
    spec = lease.get("spec") or {}
    expiry = expires_at(lease)
    left = "expires in %ds" % max(0, (expiry - now).total_seconds()) if expiry else "no expiry"
    return ("cluster %s: federation %s is being changed by another run: Lease %s/%s is held by %s (since %s, %s)%s. "
            "Nothing was changed. Run again once it is done, or with -e meshfed_lock_timeout=SECONDS to wait for it; "
            "if no such run is going on (it was stopped on another machine), -e meshfed_lock_break=true takes the lock"
            % (cluster, federation_name, lease["metadata"]["namespace"], lease["metadata"]["name"],
               shown_holder(spec.get("holderIdentity")), spec.get("acquireTime") or "?", left,
               "; waited %ds" % waited if waited else ""))


def refusal_verdict(results):
    """The message every cluster of a run fails with when another run holds the lock of one of them, else "".
    ``results``: [(cluster, what its lock task registered, or None)], in the play's order."""
    refused = [(cluster, r) for cluster, r in results if isinstance(r, dict) and r.get("held_by")]
    if not refused:
        return ""
    return ("Another run holds the federation's lock in %s, so this run changes no cluster. %s"
            % (", ".join(cluster for cluster, dummy in refused), " ".join(r.get("msg", "") for dummy, r in refused)))


# --- the cluster side ---

def this_run():
    """The holder identity of this run, and its machine's name."""
    host = socket.gethostname()
    found = run_process(os.getpid())
    pid, start = found if found else (os.getpid(), (read_stat(os.getpid()) or (0, 0))[1])
    return holder_identity(getpass.getuser(), host, pid, start), host


def acquire(client, name, namespace, federation_name, me, host, duration, timeout, break_lock,
            clock=time.time, sleep=time.sleep, alive=process_alive):
    """Take (or renew) the lock; returns (lease, warning or None). ClusterError when another run holds it after
    ``timeout`` seconds."""
    started = clock()
    while True:
        now = EPOCH + timedelta(seconds=clock())
        lease = client.get(lease_ref(name, namespace))
        action, why = decide(lease, me, now, host, alive, break_lock)
        if action == HELD:
            waited = clock() - started
            if waited >= timeout:
                raise LockHeld(refusal_message(client.cluster, federation_name, lease, now, int(waited)),
                               shown_holder((lease.get("spec") or {}).get("holderIdentity")))
            sleep(min(POLL_SECONDS, timeout - waited))
            continue
        body = lease_object(name, namespace, federation_name, me, duration, now, None if action == CREATE else lease)
        written = client.create(body) if action == CREATE else client.replace(body)
        if written is not None:
            return written, why
        # 409: another run wrote it between our read and our write; read again


def release(client, name, namespace, me):
    """Delete the lock if this run holds it; returns a warning when another run took it meanwhile."""
    lease = client.get(lease_ref(name, namespace))
    if lease is None:
        return None
    holder = (lease.get("spec") or {}).get("holderIdentity")
    if holder != me:
        return "the lock was taken over by %s while this run held it" % shown_holder(holder)
    client.delete(lease, unchanged=True)
    return None


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
