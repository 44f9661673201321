# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Without the kubernetes.core collection a module that reaches a cluster fails saying so (its connection options
are still accepted), and state=rendered still works: run in a Python where kubernetes.core cannot be imported."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

from scenarios import SEED, settings

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
COLLECTIONS = os.path.join(REPO, ".lab", "collections")

SCRIPT = """
import json, sys


class NoKubernetesCore(object):
    def find_spec(self, name, path=None, target=None):
        if name == "ansible_collections.kubernetes" or name.startswith("ansible_collections.kubernetes."):
            raise ImportError("no " + name)


sys.meta_path.insert(0, NoKubernetesCore())
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import SERVICE_EXPORT_MODULE
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.service_export import run_service_export
from ansible_collections.meshfed.federation.plugins.plugin_utils.in_process import run_in_process

results = [run_in_process(SERVICE_EXPORT_MODULE, run_service_export, args, False, False)
           for args in json.loads(sys.argv[1])]
print(json.dumps(results))
"""


def test_modules_say_kubernetes_core_is_missing():
    args = {"federation": {"clusters": SEED, "settings": settings(federation_name="demo")}, "cluster": "cluster2",
            "kubeconfig": {"users": [{"name": "meshfed-admin", "user": {"token": "s3cr3t-token"}}]}, "context": "ctx"}
    runs = [args, dict(args, state="rendered")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([COLLECTIONS, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(runs)], capture_output=True, text=True, env=env,
                          timeout=120, check=True)
    present, rendered = json.loads(proc.stdout)
    assert present["failed"]
    assert present["msg"].startswith("meshfed.federation needs the kubernetes.core collection")
    assert not rendered.get("failed") and rendered["rendered"], rendered
    assert "s3cr3t-token" not in proc.stdout
