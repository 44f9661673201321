# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An AWX job without AWX: the credentials injected as AWX injects them, the private data directory AWX builds,
and ansible-runner's Python API, which runs every AWX and Automation Controller job.

* ``render_injectors``: what AWX does with a credential when a job starts (CredentialType.inject_credential).
* ``prepare_job``: the job's private data directory (AWX's RunJob: ``env/`` with the credentials' files, the
  inventory as the script AWX writes from its database, the project's collections, the job's environment and
  command line) and the keyword arguments AWX gives ``ansible_runner.run``.
* ``run_job``: runs one in a subprocess (in a network namespace if asked: the lab's operator namespace plays the
  execution node) that calls ``ansible_runner.run`` and writes its rc, status and every event as JSON; this file
  is that subprocess's script too (``python awx_job.py JOB.json RESULT.json``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import subprocess
import sys
import tempfile

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The ANSIBLE_* settings AWX passes to every job (awx/settings/defaults.py), and what RunJob.build_env adds.
AWX_SETTINGS_ENV = {"ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_PARAMIKO_RECORD_HOST_KEYS": "False",
                    "ANSIBLE_FORCE_COLOR": "True", "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
                    "ANSIBLE_RETRY_FILES_ENABLED": "False"}
# RunJob.build_env: the project's requirements first, then Ansible's defaults
COLLECTIONS_DEFAULT = ["~/.ansible/collections", "/usr/share/ansible/collections"]
INVENTORY_SCRIPT = "#! /usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint(%r)\n"  # BaseTask.write_inventory_file


class TowerNamespace(object):
    """AWX's ``tower`` namespace: ``tower.filename`` (single file) or ``tower.filename.<name>`` (multi-file)."""


def render_injectors(credential_type, inputs, private_data_dir):
    """What AWX does with a credential of this type when a job starts (CredentialType.inject_credential):
    returns (env, extra_vars, extra_vars_file, files by label) with every path inside ``private_data_dir``,
    which plays the job's /runner directory."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment  # pylint: disable=import-outside-toplevel

    env_dir = os.path.join(private_data_dir, "env")
    os.makedirs(env_dir, exist_ok=True)
    sandbox = ImmutableSandboxedEnvironment()
    tower = TowerNamespace()
    namespace = {"tower": tower}
    for field in credential_type["inputs"].get("fields", []):
        value = inputs.get(field["id"])
        if field["type"] == "boolean":
            namespace[field["id"]] = bool(value)
        elif value:                                   # AWX leaves empty string inputs out of the namespace
            namespace[field["id"]] = value
    injectors = credential_type["injectors"]
    files = {}
    for label, template in injectors.get("file", {}).items():
        data = sandbox.from_string(template).render(**namespace)
        handle, path = tempfile.mkstemp(dir=env_dir)
        with os.fdopen(handle, "w") as f:
            f.write(data)
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IWGRP)
        if "." not in label:
            tower.filename = path
        else:
            if not hasattr(tower, "filename"):
                tower.filename = TowerNamespace()
            setattr(tower.filename, label.split(".", 1)[1], path)
        files[label] = path
    env = {name: sandbox.from_string(template).render(**namespace)
           for name, template in injectors.get("env", {}).items()}

    def build_extra_vars(node):
        if isinstance(node, dict):
            return {build_extra_vars(k): build_extra_vars(v) for k, v in node.items()}
        if isinstance(node, list):
            return [build_extra_vars(x) for x in node]
        return sandbox.from_string(node).render(**namespace)

    extra_vars = build_extra_vars(injectors.get("extra_vars", {}))
    extra_vars_file = None
    if extra_vars:
        handle, extra_vars_file = tempfile.mkstemp(dir=env_dir)
        with os.fdopen(handle, "w") as f:
            yaml.safe_dump(extra_vars, f)
        os.chmod(extra_vars_file, stat.S_IRUSR | stat.S_IRGRP)
    return env, extra_vars, extra_vars_file, files


def make_ca():
    """A self-signed ECDSA P-256 CA, the input of a CA credential: (certificate PEM, key PEM, certificate)."""
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki

    key = pki.generate_key("ecdsa-p256")
    cert = pki.build_ca(key, common_name="awx test federation CA", validity_days=30)
    return pki.cert_to_pem(cert).decode(), pki.key_to_pem(key).decode(), cert


def without_clusters(scratch):
    """This environment with no way to a cluster or an Ansible setting of its own: no K8S_AUTH_* or ANSIBLE_*
    variable, KUBECONFIG (no ~/.kube/config fallback) and MESHFED_LAB_DIR (nor the lab inventory's) pointing
    nowhere. What reaches a cluster then is what a credential injected."""
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(("K8S_AUTH_", "ANSIBLE_")))
    env.update(KUBECONFIG=os.path.join(scratch, "no-such-kubeconfig"),
               MESHFED_LAB_DIR=os.path.join(scratch, "no-such-lab"))
    return env


def inventory_script(inventory_dir, private_data_dir):
    """The job's inventory as AWX gives it: a project-sourced inventory is imported into AWX's database
    (``ansible-inventory --list --export``: hosts, group and host variables, untemplated), and each job gets a
    script printing it back (``inventory/hosts``, mode 0700)."""
    done = subprocess.run(["ansible-inventory", "-i", inventory_dir, "--list", "--export"], cwd=REPO,
                          env=without_clusters(private_data_dir), capture_output=True, text=True, timeout=120,
                          check=True)
    path = os.path.join(private_data_dir, "inventory", "hosts")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(INVENTORY_SCRIPT % json.dumps(json.loads(done.stdout)))
    os.chmod(path, stat.S_IRWXU)
    return path


def prepare_job(private_data_dir, playbook, inventory_dir, credentials, extra_vars=None, job_type="run",
                forks=10, timeout=600, job_id=1):
    """Build the private data directory of one job and return the keyword arguments of ``ansible_runner.run``
    as AWX's BaseTask.run passes them. ``credentials`` are (credential type, inputs) pairs, injected in order;
    the collection comes from the project's requirements (this checkout, linked where a project sync installs
    them)."""
    for sub in ("env", "inventory", "project"):
        os.makedirs(os.path.join(private_data_dir, sub), exist_ok=True)
    requirements = os.path.join(private_data_dir, "requirements_collections")
    link = os.path.join(requirements, "ansible_collections", "meshfed", "federation")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if not os.path.islink(link):
        os.symlink(REPO, link)
    env = dict(AWX_SETTINGS_ENV, JOB_ID=str(job_id), INVENTORY_ID="1", AWX_PRIVATE_DATA_DIR=private_data_dir,
               ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([requirements] + COLLECTIONS_DEFAULT))
    args = ["-u", "root", "--forks=%d" % forks]  # RunJob.build_args
    if job_type == "check":
        args.append("--check")
    for credential_type, inputs in credentials:
        injected_env, dummy, extra_vars_file, dummy = render_injectors(credential_type, inputs, private_data_dir)
        env.update(injected_env)
        if extra_vars_file:
            args.extend(["-e", "@" + extra_vars_file])
    extra_vars = dict(extra_vars or {}, awx_job_id=job_id, tower_job_id=job_id)  # and AWX's other meta vars
    from ansible_runner.utils import args2cmdline  # pylint: disable=import-outside-toplevel
    return {"ident": str(job_id), "private_data_dir": private_data_dir, "playbook": playbook,
            "inventory": inventory_script(inventory_dir, private_data_dir), "envvars": env, "extravars": extra_vars,
            "cmdline": args2cmdline(*args), "suppress_env_files": True,
            "settings": {"job_timeout": timeout, "suppress_ansible_output": True, "suppress_output_file": True}}


def run_job(job, netns=None, timeout=700):
    """Run the job prepared by ``prepare_job`` in a subprocess with an environment that reaches no cluster by
    itself (``without_clusters``), inside network namespace ``netns`` if given; returns
    {"rc", "status", "statuses", "events"}."""
    scratch = job["private_data_dir"]
    job_file = os.path.join(scratch, "job.json")
    result_file = os.path.join(scratch, "result.json")
    with open(job_file, "w") as f:
        json.dump(job, f)
    command = [sys.executable, os.path.abspath(__file__), job_file, result_file]
    if netns:
        command = ["ip", "netns", "exec", netns] + command
    done = subprocess.run(command, cwd=os.path.join(scratch, "project"), env=without_clusters(scratch),
                          capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0 or not os.path.exists(result_file):
        raise AssertionError("the job's runner process failed (%d): %s" % (done.returncode, done.stderr[-5000:]))
    with open(result_file) as f:
        return json.load(f)


def main(argv):
    """The job's process: ``ansible_runner.run`` with the job's arguments and AWX's handlers (every event kept,
    as AWX's callback receiver stores them; the status transitions)."""
    import ansible_runner  # pylint: disable=import-outside-toplevel

    job_file, result_file = argv
    with open(job_file) as f:
        job = json.load(f)
    events, statuses = [], []

    def event_handler(event):
        events.append(event)
        return True

    def status_handler(status, runner_config):
        del runner_config
        statuses.append(status["status"])

    runner = ansible_runner.run(event_handler=event_handler, status_handler=status_handler, quiet=True, **job)
    with open(result_file, "w") as f:
        json.dump({"rc": runner.rc, "status": runner.status, "statuses": statuses, "events": events}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
