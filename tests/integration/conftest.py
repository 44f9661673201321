# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``lab`` fixture: real local Kubernetes clusters (tools/lab, see docs/lab.md).

Session-scoped: brings the lab up (``tools/lab/lab up $MESHFED_LAB_CLUSTERS``, default 3) unless it is
already up, and leaves it running afterwards so the next run starts in seconds; set
``MESHFED_LAB_TEARDOWN=1`` to run ``tools/lab/lab down`` at the end of the session.
``MESHFED_LAB_DIR`` selects the lab's state directory (default ``<repo>/.lab``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB_PY = os.path.join(REPO, "tools", "lab", "lab.py")


class LabCommandError(Exception):
    """A kubectl/lab command failed; ``stderr`` and ``returncode`` are kept for assertions."""

    def __init__(self, cmd, returncode, stdout, stderr):
        self.cmd, self.returncode, self.stdout, self.stderr = cmd, returncode, stdout, stderr
        super(LabCommandError, self).__init__("%s exited %d: %s" % (" ".join(cmd), returncode,
                                                                    (stderr or stdout).strip()))


def run_lab(args, lab_dir=None, timeout=1800, check=True):
    """Run tools/lab/lab.py with ``args``; ``lab_dir`` overrides MESHFED_LAB_DIR."""
    env = dict(os.environ)
    if lab_dir:
        env["MESHFED_LAB_DIR"] = str(lab_dir)
    cmd = [sys.executable, LAB_PY] + list(args)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise LabCommandError(cmd, done.returncode, done.stdout, done.stderr)
    return done


class Lab(object):
    """A running lab: ``kubeconfig`` (path), ``contexts`` (cluster1..N), ``kubectl()``, ``istioctl_analyze()``."""

    Error = LabCommandError  # what kubectl() raises

    def __init__(self, lab_dir, contexts):
        self.dir = str(lab_dir)
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.contexts = list(contexts)
        with open(os.path.join(self.dir, "lab.json")) as f:
            self.state = json.load(f)
        self.bin_dir = self.state["bin_dir"]
        self.kubectl_binary = self.state["kubectl"]
        self.istioctl_binary = os.path.join(self.bin_dir, "istioctl")

    def run_lab(self, args, lab_dir=None, **kwargs):
        """tools/lab/lab.py ``args`` on this lab, or on another one (``lab_dir``)."""
        return run_lab(args, lab_dir=lab_dir or self.dir, **kwargs)

    def kubectl_run(self, context, *args, **kwargs):
        """kubectl on one context; returns the CompletedProcess whatever the exit code."""
        cmd = [self.kubectl_binary, "--kubeconfig", self.kubeconfig, "--context", context] + list(args)
        return subprocess.run(cmd, input=kwargs.get("input"), capture_output=True, text=True,
                              timeout=kwargs.get("timeout", 120), check=False)

    def kubectl(self, context, *args, **kwargs):
        """kubectl on one context; returns stdout, raises LabCommandError (with stderr) on failure."""
        done = self.kubectl_run(context, *args, **kwargs)
        if done.returncode != 0:
            raise LabCommandError(done.args, done.returncode, done.stdout, done.stderr)
        return done.stdout

    def istioctl_analyze(self, context, *args):
        """``istioctl analyze -A`` on the live cluster; returns the list of messages (dicts with level, code,
        message, origin). Raises LabCommandError if istioctl failed without producing its JSON report."""
        cmd = [self.istioctl_binary, "analyze", "-A", "--use-kube=true", "--kubeconfig", self.kubeconfig,
               "--context", context, "-o", "json"] + list(args)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
        out = done.stdout.strip()
        if "[" not in out:
            raise LabCommandError(cmd, done.returncode, done.stdout, done.stderr)
        return json.loads(out[out.index("["):])


def lab_status(lab_dir=None):
    """`lab check --json --quick` (no analyze): the summary dict, or None if it could not run."""
    done = run_lab(["check", "--json", "--quick"], lab_dir=lab_dir, timeout=300, check=False)
    try:
        return json.loads(done.stdout)
    except ValueError:
        return None


def pytest_configure(config):
    config.addinivalue_line("markers", "lab: needs the lab's real local clusters (tools/lab, docs/lab.md)")
    config.addinivalue_line("markers", "slow: takes tens of seconds or more (still runs by default)")


@pytest.fixture(scope="session")
def lab():
    lab_dir = os.environ.get("MESHFED_LAB_DIR") or os.path.join(REPO, ".lab")
    n = int(os.environ.get("MESHFED_LAB_CLUSTERS", "3"))
    wanted = ["cluster%d" % i for i in range(1, n + 1)]
    status = lab_status(lab_dir)
    healthy = status and status.get("ok") and set(wanted) <= set(status.get("contexts", []))
    if not healthy:
        done = run_lab(["up", str(n)], lab_dir=lab_dir, check=False)
        if done.returncode != 0:
            pytest.fail("tools/lab/lab up %d failed:\n%s" % (n, done.stderr[-5000:]), pytrace=False)
    yield Lab(lab_dir, wanted)
    if os.environ.get("MESHFED_LAB_TEARDOWN") == "1":
        run_lab(["down"], lab_dir=lab_dir, check=False)
