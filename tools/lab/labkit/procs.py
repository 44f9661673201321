# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Processes and sockets of a lab: which processes are ours, stopping them, what listens where.

A process is the lab's when its command line names the lab's directory or its environment carries
OWNER_ENV=<lab dir> (what the mesh's processes get); processes are only ever signalled by pid after that test.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from labkit.common import OWNER_ENV


def state(pid: int) -> str | None:
    """The process's state letter (R, S, T: stopped, Z: a zombie, ...), None if there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    return state(pid) not in (None, "Z")


def stopped(pid: int) -> bool:
    """Stopped by a signal (SIGSTOP): alive, but runs nothing until SIGCONT."""
    return state(pid) == "T"


def owned_by(pid: int, home: Path) -> bool:
    """True if pid is alive and belongs to the lab in ``home``."""
    if not alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        if str(home) in cmdline:
            return True
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"{OWNER_ENV}={home}".encode() in environ


def lab_pids(home: Path) -> list[int]:
    """Every live process the lab in ``home`` started: the mesh's (by environment) and the clusters' (their
    binary lies in the lab's kwok directory), whether or not their pid files are still there."""
    mine = {os.getpid(), os.getppid()}
    prefix = str(home / "kwok" / "clusters") + "/"
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) in mine or not alive(int(d.name)):
            continue
        try:
            argv0 = (d / "cmdline").read_bytes().split(b"\0", 1)[0].decode(errors="replace")
            environ = (d / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv0.startswith(prefix) or f"{OWNER_ENV}={home}".encode() in environ:
            found.append(int(d.name))
    return sorted(found)


def kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop(pids, home: Path, grace: float = 20) -> list[int]:
    """SIGTERM the lab's processes among ``pids``, SIGKILL what is left after ``grace`` seconds; returns
    the pids that were signalled."""
    mine = [p for p in set(pids) if owned_by(p, home)]
    for p in mine:
        kill(p, signal.SIGTERM)
        kill(p, signal.SIGCONT)  # a stopped process (lab fault app-stop) takes its SIGTERM only once continued
    deadline = time.time() + grace
    while time.time() < deadline and any(alive(p) for p in mine):
        time.sleep(0.2)
    for p in mine:
        if owned_by(p, home):
            kill(p, signal.SIGKILL)
    deadline = time.time() + 10
    while time.time() < deadline and any(alive(p) for p in mine):
        time.sleep(0.2)
    return sorted(mine)


def listening(pids: set[int] | None = None, netns: str | None = None) -> list[dict]:
    """Listening TCP sockets from `ss -ltnp` (in a network namespace if given): [{addr, port, pid, process}]."""
    cmd = ["ss", "-Hltnp"] if netns is None else ["ip", "netns", "exec", netns, "ss", "-Hltnp"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    res = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        addr, dummy, port = parts[3].rpartition(":")
        m = re.search(r'users:\(\("([^"]+)",pid=(\d+)', line)
        pid = int(m.group(2)) if m else None
        if pids is not None and pid not in pids:
            continue
        res.append({"addr": addr, "port": int(port), "pid": pid, "process": m.group(1) if m else None})
    return res


def spawn(cmd: list[str], log_file: Path, env: dict, home: Path, cwd: Path | None = None) -> subprocess.Popen:
    """Start ``cmd`` in its own session (its children go with it), detached from our terminal."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    env = dict(env, **{OWNER_ENV: str(home)})
    with open(log_file, "ab") as out:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=str(cwd) if cwd else None, start_new_session=True)


def group(pgid: int) -> list[int]:
    """The live processes of process group ``pgid``."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(d.name))
    return found


def stop_group(pid: int, home: Path, grace: float = 10) -> None:
    """Stop a process started by spawn() and everything in its session (pilot-agent and its Envoy), also when the
    process itself is gone (a pilot-agent killed leaves its Envoy running, holding the proxy's ports)."""
    if not any(owned_by(p, home) for p in {pid, *group(pid)}):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
        os.killpg(pid, signal.SIGCONT)
    except ProcessLookupError:
        return
    deadline = time.time() + grace
    while time.time() < deadline and group(pid):
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
