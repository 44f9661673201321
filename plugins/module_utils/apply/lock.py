# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation lock: a coordination.k8s.io Lease per federation in each cluster, held by one playbook run at a
time, so that two runs never apply (or prune) one federation's objects in a cluster at once. Who holds it, whether it
may be taken, acquiring and releasing it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from datetime import datetime, timedelta
import getpass
import os
import re
import socket
import time
from ansible_collections.meshfed.federation.plugins.module_utils.apply.client import ClusterError
from ansible_collections.meshfed.federation.plugins.module_utils.kube.labels import (
    FEDERATION, MANAGED_BY, MANAGED_BY_VALUE)

LEASE_API = "coordination.k8s.io/v1"
HOLDER = re.compile(r"^(?P<user>.*)@(?P<host>[^@ ]+) pid (?P<pid>\d+) start (?P<start>\d+)$")
MICRO_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
POLL_SECONDS = 2.0
EPOCH = datetime(1970, 1, 1)
# what acquire does with a Lease it read (decide)
CREATE, RENEW, TAKE, HELD = "create", "renew", "take", "held"


def lease_name(federation_name):
    # the one object name not in model/names.py: apply never imports the model, and the lock is taken before the
    # model is at hand (federation_lock takes a federation name, not a federation)
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
