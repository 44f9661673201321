# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every part of the lab shares: where things are, the pinned versions, logging, the error type."""

from __future__ import annotations

import os
import random
import socket
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
REPO = HERE.parent.parent
# set in the environment of every process the lab starts: how `down` recognises them
OWNER_ENV = "MESHFED_LAB_OWNER"


class LabError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[lab {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def versions() -> dict[str, str]:
    found = {}
    for line in (HERE / "versions.env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            found[key.strip()] = value.strip()
    return found


def cache_dir() -> Path:
    d = Path(os.environ.get("MESHFED_LAB_CACHE") or Path.home() / ".cache" / "meshfed-lab")
    d.mkdir(parents=True, exist_ok=True)
    return d


LAB_PORTS = (20000, 32000)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free now, below the kernel's ephemeral range.

    A port the kernel hands out for bind(0) is in the ephemeral range, where any outgoing connection (the
    clusters' own clients) may take it before the process we pass it to binds it.
    """
    low = min(LAB_PORTS[1], ephemeral_low())
    for port in random.sample(range(LAB_PORTS[0], low), min(200, max(0, low - LAB_PORTS[0]))):
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def cluster_sort_key(name: str):
    digits = len(name) - len(name.rstrip("0123456789"))
    return (name[:len(name) - digits], int(name[len(name) - digits:]) if digits else 0)
