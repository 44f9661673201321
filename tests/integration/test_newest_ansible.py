# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The playbooks on the newest ansible-core and Python (tools/newest, given as MESHFED_NEWEST_PYTHON by tools/test):
federate, federate again with nothing changed, status, unfederate, with no warning of ansible-core's on the way
(a result key it converts, a deprecation)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import subprocess
import uuid

import pytest

from ansible_collections.meshfed.federation.tests.integration.playbook_runner import (
    run_playbook, settle_namespace, write_inventory)

pytestmark = pytest.mark.lab

NEWEST = os.environ.get("MESHFED_NEWEST_PYTHON")
FEDERATION = "newest-" + uuid.uuid4().hex[:6]
# what ansible-core says of the collection's doing (a result key it converted, a deprecated use); meshfed's own
# warnings (a mesh setting, say) are not about ansible-core
ANSIBLE_WARNING = re.compile(r"\[(WARNING|DEPRECATION WARNING)\]: .*(converted to|deprecat)", re.I)


def newest_env():
    """ansible-playbook of the newest venv first on PATH."""
    return {"PATH": os.path.dirname(NEWEST) + os.pathsep + os.environ["PATH"]}


def run(playbook, inventory, *extra):
    done = run_playbook(playbook, inventory, *extra, env=newest_env())
    assert done.rc == 0, done.stdout[-5000:] + done.stderr[-3000:]
    assert not ANSIBLE_WARNING.findall(done.stderr + done.stdout), done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def inventory(lab, tmp_path_factory):
    if not NEWEST:
        pytest.fail("MESHFED_NEWEST_PYTHON is not set: run it through tools/test integration") if os.environ.get(
            "CI") == "true" else pytest.skip("MESHFED_NEWEST_PYTHON is not set (tools/test sets it)")
    version = subprocess.run([os.path.join(os.path.dirname(NEWEST), "ansible-playbook"), "--version"],
                             capture_output=True, text=True, check=True).stdout
    assert "core 2.2" in version.splitlines()[0], version
    settle_namespace(lab, "cluster1", "istio-private-gateways")
    settle_namespace(lab, "cluster2", "istio-private-gateways")
    directory = str(tmp_path_factory.mktemp("inventory"))
    write_inventory(directory, lab.kubeconfig, FEDERATION)
    run("lab_sample_apps.yml", directory)
    yield directory
    run_playbook("unfederate.yml", directory, env=newest_env())


def test_federate_then_nothing_to_change_then_status(inventory):
    first = run("federate.yml", inventory)
    assert first.changed_tasks(), "the first run created nothing"
    again = run("federate.yml", inventory)
    assert again.changed_tasks() == []
    status = run("status.yml", inventory, "-e", "meshfed_probe=false")
    assert not status.failure()
