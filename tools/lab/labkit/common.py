# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every part of the lab shares: where things are, the pinned versions, logging, the error type."""

from __future__ import annotations

import os
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


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def cluster_sort_key(name: str):
    digits = len(name) - len(name.rstrip("0123456789"))
    return (name[:len(name) - digits], int(name[len(name) - digits:]) if digits else 0)
