# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's network: a hub namespace holding a bridge, and one network namespace per cluster linked to it.

    <tag>-hub        bridge br0, one veth end per cluster (named like the cluster's index: c1, c2, ...)
    <tag>-clusterN   eth0 = 172.31.N.1/16 on the hub's L2; the cluster's LoadBalancer addresses 172.31.N.100-199
                     (/32 on eth0); the pod addresses of the pods that run processes (/32 on lo)
    <tag>-operator   eth0 = 172.31.0.254/16: where an operator's machine sits, reaching the clusters' load balancer
                     addresses; the API servers' ports are forwarded to its loopback (``lab operator -- CMD``)

Every address exists only inside these namespaces; the root namespace gets none, only a blackhole route for
172.31.0.0/16 while a lab is up, so that nothing it sends to a lab address leaves the machine. Processes in the root
namespace reach into a cluster's namespace through sockets made there (``socket_in``), which is also how the
lab forwards istiod's port into every cluster (see forward.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import socket
import subprocess

from labkit.common import LabError

CLONE_NEWNET = 0x40000000
HUB_NET = ipaddress.ip_network("172.31.0.0/16")
_libc = ctypes.CDLL(None, use_errno=True)


def ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = ["ip"] + (["-n", netns] if netns else []) + list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(cmd)}: {proc.stderr.strip()}")
    return proc


def existing() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def hub_name(tag: str) -> str:
    return f"{tag}-hub"


def cluster_netns(tag: str, cluster: str) -> str:
    return f"{tag}-{cluster}"


def cluster_index(cluster: str) -> int:
    digits = cluster[len(cluster.rstrip("0123456789")):]
    if not digits or not 0 < int(digits) < 250:
        raise LabError(f"cluster name {cluster} must end in a number 1..249")
    return int(digits)


def cluster_address(cluster: str) -> str:
    return str(HUB_NET.network_address + (cluster_index(cluster) << 8) + 1)


def load_balancer_pool(cluster: str) -> list[str]:
    base = HUB_NET.network_address + (cluster_index(cluster) << 8)
    return [str(base + i) for i in range(100, 200)]


def ensure_hub(tag: str) -> None:
    # the root namespace never sends the lab's addresses out of the machine: a process there dialling a load
    # balancer address (status.yml run outside `lab operator`) is refused at once instead of leaving by the default route
    taken = [r for r in ip("-o", "route", "show").stdout.splitlines()
             if not r.startswith("blackhole") and r.split()[0] != "default"
             and ipaddress.ip_network(r.split()[0], strict=False).overlaps(HUB_NET)]
    if taken:
        raise LabError(f"this machine's own network uses {HUB_NET}, the lab's: {taken}")
    ip("route", "replace", "blackhole", str(HUB_NET))
    hub = hub_name(tag)
    if hub not in existing():
        ip("netns", "add", hub)
    ip("link", "set", "lo", "up", netns=hub)
    if ip("link", "show", "br0", netns=hub, check=False).returncode != 0:
        ip("link", "add", "br0", "type", "bridge", netns=hub)
    ip("link", "set", "br0", "up", netns=hub)


OPERATOR_INDEX = 254


def operator_netns(tag: str) -> str:
    return f"{tag}-operator"


def ensure_operator(tag: str) -> str:
    """The operator's namespace on the hub (idempotent); returns its name."""
    address = str(HUB_NET.network_address + OPERATOR_INDEX)
    return _ensure_member(tag, operator_netns(tag), OPERATOR_INDEX, address)


def ensure_cluster(tag: str, cluster: str) -> str:
    """The cluster's namespace, linked to the hub (idempotent); returns its name."""
    return _ensure_member(tag, cluster_netns(tag, cluster), cluster_index(cluster), cluster_address(cluster))


def _ensure_member(tag: str, ns: str, index: int, address: str) -> str:
    ensure_hub(tag)
    hub = hub_name(tag)
    if ns not in existing():
        ip("netns", "add", ns)
    ip("link", "set", "lo", "up", netns=ns)
    if ip("link", "show", "eth0", netns=ns, check=False).returncode != 0:
        a, b = f"{tag}c{index}a", f"{tag}c{index}b"  # temporary names in the root namespace
        ip("link", "del", a, check=False)
        ip("link", "add", a, "type", "veth", "peer", "name", b)
        ip("link", "set", a, "netns", hub)
        ip("link", "set", b, "netns", ns)
        ip("link", "set", a, "name", f"c{index}", netns=hub)
        ip("link", "set", b, "name", "eth0", netns=ns)
    ip("link", "set", f"c{index}", "master", "br0", netns=hub)
    ip("link", "set", f"c{index}", "up", netns=hub)
    ip("link", "set", "eth0", "up", netns=ns)
    ip("addr", "replace", f"{address}/{HUB_NET.prefixlen}", "dev", "eth0", netns=ns)
    return ns


def remove(tag: str) -> list[str]:
    """Delete every namespace of this lab (their links go with them); returns their names."""
    gone = sorted(n for n in existing() if n.startswith(tag + "-"))
    for n in gone:
        ip("netns", "del", n, check=False)
    for line in ip("-o", "link", "show", check=False).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        if name.startswith(tag + "c"):
            ip("link", "del", name, check=False)
    if not [n for n in existing() if n.endswith("-hub")]:  # the last lab on this machine
        ip("route", "del", "blackhole", str(HUB_NET), check=False)
    return gone


def addresses(ns: str, dev: str) -> set[str]:
    out = ip("-o", "-4", "addr", "show", "dev", dev, netns=ns, check=False).stdout
    return {line.split()[3].split("/")[0] for line in out.splitlines() if len(line.split()) > 3}


def add_address(ns: str, address: str, dev: str) -> None:
    ip("addr", "replace", f"{address}/32", "dev", dev, netns=ns)


def del_address(ns: str, address: str, dev: str) -> None:
    ip("addr", "del", f"{address}/32", "dev", dev, netns=ns, check=False)


@contextlib.contextmanager
def entered(ns: str):
    """Run the block with this thread in network namespace ``ns``; sockets made inside stay in it."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise LabError(f"setns {ns}: {os.strerror(ctypes.get_errno())}")
        try:
            yield
        finally:
            if _libc.setns(home, CLONE_NEWNET) != 0:
                raise LabError(f"setns back from {ns}: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(home)
        os.close(target)


def socket_in(ns: str, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> socket.socket:
    with entered(ns):
        return socket.socket(family, kind)


def connect(ns: str, address: tuple[str, int], timeout: float = 5.0) -> socket.socket:
    """A TCP connection made from inside ``ns``."""
    s = socket_in(ns)
    s.settimeout(timeout)
    try:
        s.connect(address)
    except OSError:
        s.close()
        raise
    return s
