# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""New TCP connections to an address refused (ECONNREFUSED) inside a network namespace, without iptables or nft:
a BPF ``sk_lookup`` program attached to the namespace answers SK_DROP for a connection to that address, and the
kernel then finds no listening socket for it and answers the SYN with a reset, as for a closed port. Connections
already established are not looked up again (see ``reset_connections``).

The program lives as long as the file descriptor of its link (``Refusal.close`` or the holder's exit detaches it),
so a long-running process holds it: the lab's controller. Linux 5.9 or later, run as root.
"""

from __future__ import annotations

import ctypes
import os
import platform
import socket
import struct
import subprocess

from labkit.common import LabError

BPF_PROG_LOAD, BPF_LINK_CREATE = 5, 28
BPF_PROG_TYPE_SK_LOOKUP, BPF_SK_LOOKUP = 30, 36
SK_DROP, SK_PASS = 0, 1
# offsets in struct bpf_sk_lookup (include/uapi/linux/bpf.h)
PROTOCOL_OFFSET, LOCAL_IP4_OFFSET = 12, 40
SYS_BPF = {"x86_64": 321, "aarch64": 280}

_libc = ctypes.CDLL(None, use_errno=True)


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, dst | src << 4, off, imm)


def program(address: str) -> bytes:
    """SK_DROP for TCP to ``address``, SK_PASS for everything else."""
    ip = struct.unpack("<i", socket.inet_aton(address))[0]  # local_ip4 is in network byte order
    return b"".join([
        _insn(0x61, dst=2, src=1, off=PROTOCOL_OFFSET),     # r2 = ctx->protocol
        _insn(0x55, dst=2, off=4, imm=socket.IPPROTO_TCP),  # if r2 != TCP goto pass
        _insn(0x61, dst=2, src=1, off=LOCAL_IP4_OFFSET),    # r2 = ctx->local_ip4
        _insn(0x56, dst=2, off=2, imm=ip),                  # if (u32) r2 != address goto pass
        _insn(0xb7, dst=0, imm=SK_DROP),                    # r0 = SK_DROP
        _insn(0x95),                                        # exit
        _insn(0xb7, dst=0, imm=SK_PASS),                    # pass: r0 = SK_PASS
        _insn(0x95),                                        # exit
    ])


def _bpf(cmd: int, attr: bytes) -> int:
    number = SYS_BPF.get(platform.machine())
    if number is None:
        raise LabError(f"no bpf syscall number known for {platform.machine()}")
    buf = ctypes.create_string_buffer(attr, 128)
    fd = _libc.syscall(number, cmd, buf, len(buf))
    if fd < 0:
        raise LabError(f"bpf({cmd}): {os.strerror(ctypes.get_errno())}")
    return fd


def _load(address: str) -> int:
    code = ctypes.create_string_buffer(program(address))
    license_ = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(4096)
    name = b"lab_refuse".ljust(16, b"\0")
    attr = struct.pack("<IIQQIIQII16sII", BPF_PROG_TYPE_SK_LOOKUP, len(code.raw) // 8,
                       ctypes.addressof(code), ctypes.addressof(license_), 1, len(log), ctypes.addressof(log),
                       0, 0, name, 0, BPF_SK_LOOKUP)
    try:
        return _bpf(BPF_PROG_LOAD, attr)
    except LabError as e:
        raise LabError(f"{e}: {log.value.decode(errors='replace').strip()}") from None


class Refusal:
    """New TCP connections to ``address`` inside network namespace ``ns`` refused until ``close()``."""

    def __init__(self, ns: str, address: str):
        self.ns, self.address = ns, address
        prog = _load(address)
        target = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
        try:
            self.link = _bpf(BPF_LINK_CREATE, struct.pack("<IIII", prog, target, BPF_SK_LOOKUP, 0))
        finally:
            os.close(target)
            os.close(prog)  # the link holds the program

    def close(self) -> None:
        if self.link >= 0:
            os.close(self.link)
            self.link = -1


def reset_connections(ns: str, address: str) -> None:
    """Abort every TCP connection from or to ``address`` in ``ns`` (``ss -K``; both ends get a reset): what a
    process that went away leaves its peers with."""
    subprocess.run(["ip", "netns", "exec", ns, "ss", "-K", "-t", f"( src {address} or dst {address} )"],
                   capture_output=True, text=True, timeout=10, check=False)
