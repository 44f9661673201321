# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running the collection from AWX: the execution environment definition and the multi-cluster credential type.

* ``ansible-builder create`` turns execution-environment.yml into a complete build context, offline, and
  builder's introspection finds the collection's own dependencies (meta/execution-environment.yml).
* The credential type is one AWX accepts, and what its injectors give a job works: ``render_injectors``
  (awx_job.py) does what AWX does when a job starts (sandboxed Jinja, ``file`` templates written to private
  files whose paths become ``tower.filename.<name>``, ``env`` and ``extra_vars`` rendered against them), then
  kubectl, an ad-hoc kubernetes.core module and status.yml run against the lab with nothing but what the
  injectors produced. test_awx_runner.py runs whole jobs through ansible-runner.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile

import pytest
import yaml
from jinja2 import StrictUndefined
from jinja2.exceptions import UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ansible_collections.meshfed.federation.tests.integration.awx_job import (
    TowerNamespace, make_ca, render_injectors, without_clusters)
from ansible_collections.meshfed.federation.tests.integration.playbook_runner import PlaybookRun

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EE_FILE = os.path.join(REPO, "execution-environment.yml")
CREDENTIAL_TYPE_FILE = os.path.join(REPO, "extensions", "awx", "credential_type_meshfed_clusters.yml")
CA_CREDENTIAL_TYPE_FILE = os.path.join(REPO, "extensions", "awx", "credential_type_meshfed_ca.yml")

# The key patterns of AWX's credential type schema (awx/main/fields.py) and the environment variables it
# refuses to inject (ENV_BLOCKLIST of awx/main/constants.py, plus everything starting with ANSIBLE_).
FIELD_ID = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
FILE_KEY = re.compile(r"^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$")
ENV_KEY = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
ENV_BLOCKED = {"VIRTUAL_ENV", "PATH", "PYTHONPATH", "PROOT_TMP_DIR", "JOB_ID", "INVENTORY_ID", "INVENTORY_SOURCE_ID",
               "INVENTORY_UPDATE_ID", "AD_HOC_COMMAND_ID", "REST_API_URL", "REST_API_TOKEN", "MAX_EVENT_RES",
               "CALLBACK_QUEUE", "CALLBACK_CONNECTION", "CACHE", "JOB_CALLBACK_DEBUG", "INVENTORY_HOSTVARS",
               "FACT_QUEUE", "TOWER_HOST", "AWX_HOST", "PROJECT_REVISION", "SUPERVISOR_WEB_CONFIG_PATH"}


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


# ---------------------------------------------------------------------------------------------------------------
# Execution environment


def ansible_builder():
    found = shutil.which("ansible-builder")
    if found:
        return [found]
    try:
        import ansible_builder  # noqa: F401 pylint: disable=unused-import,import-outside-toplevel
    except ImportError:
        pytest.skip("ansible-builder is not installed (pip install -r tests/requirements.txt)")
    return [sys.executable, "-m", "ansible_builder"]


def offline_prefix():
    """``unshare -rn`` (a new network namespace with only a down loopback) when this machine allows it, so the
    test proves ``ansible-builder create`` needs no network; nothing otherwise."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True, check=False).returncode == 0:
        return [unshare, "-rn"]
    return []


def requirement_names(path):
    names = set()
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                names.add(re.split(r"[\s<>=!~;\[]", line, 1)[0].lower())
    return names


@pytest.fixture(scope="module")
def build_context(tmp_path_factory):
    context = str(tmp_path_factory.mktemp("ee") / "context")
    command = offline_prefix() + ansible_builder() + [
        "create", "-f", EE_FILE, "-c", context, "--output-filename", "Containerfile", "-v", "3"]
    done = subprocess.run(command, cwd=str(tmp_path_factory.getbasetemp()), capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return context


def test_ee_definition_is_builder_v3():
    ee = load_yaml(EE_FILE)
    assert ee["version"] == 3
    assert ee["images"]["base_image"]["name"]
    files = dict((k, v) for k, v in ee["dependencies"].items() if k in ("galaxy", "python", "system"))
    assert files == {"galaxy": "collections/requirements.yml", "python": "requirements.txt", "system": "bindep.txt"}
    for relative in files.values():
        assert os.path.isfile(os.path.join(REPO, relative)), relative
    meta = load_yaml(os.path.join(REPO, "meta", "execution-environment.yml"))
    assert meta == {"version": 1, "dependencies": {"python": "requirements.txt", "system": "bindep.txt"}}


def test_ee_build_context(build_context):
    base_image = load_yaml(EE_FILE)["images"]["base_image"]["name"]
    containerfile = os.path.join(build_context, "Containerfile")
    assert os.path.isfile(containerfile)
    with open(containerfile) as f:
        text = f.read()
    assert 'ARG EE_BASE_IMAGE="%s"' % base_image in text
    assert re.search(r"^FROM \$EE_BASE_IMAGE AS base$", text, re.M)
    # ansible-core, ansible-runner and the collection's requirements go into one Python, and modules run on it.
    python_path = load_yaml(EE_FILE)["dependencies"]["python_interpreter"]["python_path"]
    assert 'ARG PYCMD="%s"' % python_path in text
    assert "ENV ANSIBLE_PYTHON_INTERPRETER=%s" % python_path in text
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', text, re.M).group(1)
    assert "ansible-core" in refs and "ansible-runner" in refs
    # The Containerfile runs `pip install $ANSIBLE_INSTALL_REFS` unquoted: `>`/`<` would be shell redirections.
    assert not re.search(r"[<>|;&]", refs), refs
    # The context carries the three requirement files and the Containerfile installs from them.
    build = os.path.join(build_context, "_build")
    for name in ("requirements.txt", "requirements.yml", "bindep.txt"):
        assert os.path.isfile(os.path.join(build, name)), name
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in text
    assert "COPY _build/requirements.txt requirements.txt" in text
    assert "COPY _build/bindep.txt bindep.txt" in text

    python = requirement_names(os.path.join(build, "requirements.txt"))
    assert {"kubernetes", "cryptography", "pyyaml"} <= python, python
    galaxy = load_yaml(os.path.join(build, "requirements.yml"))
    collections = {c["name"]: c.get("version", "*") for c in galaxy["collections"]}
    assert collections.get("kubernetes.core") == ">=6.2.0", collections
    with open(os.path.join(build, "bindep.txt")) as f:
        assert "openssl [platform:rpm]" in f.read()


def test_ee_introspection_finds_the_collection_dependencies(build_context, tmp_path):
    """Builder's introspection (what the image build runs over every installed collection) reads
    meta/execution-environment.yml of the collection as released (built and installed from its tarball): an
    EE that only lists meshfed.federation in its galaxy requirements still gets kubernetes and cryptography."""
    collections = tmp_path / "collections"
    tarball = os.path.join(str(tmp_path), "meshfed-federation-%s.tar.gz" % load_yaml(
        os.path.join(REPO, "galaxy.yml"))["version"])
    done = subprocess.run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path), REPO],
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    with tarfile.open(tarball) as tar:
        shipped = tar.getnames()
    # The lab's state (kubeconfig with client keys, etcd data) must never ship: galaxy.yml build_ignore.
    assert not [name for name in shipped if name.split("/", 1)[0] == ".lab"], "the collection tarball ships .lab/"
    done = subprocess.run(["ansible-galaxy", "collection", "install", "--no-deps", "-p", str(collections), tarball],
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    installed = collections / "ansible_collections" / "meshfed" / "federation"
    for name in ("meta/execution-environment.yml", "requirements.txt", "bindep.txt"):
        assert (installed / name).is_file(), name
    script = os.path.join(build_context, "_build", "scripts", "introspect.py")
    done = subprocess.run([sys.executable, script, "introspect", str(collections)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    found = yaml.safe_load(done.stdout)
    ours = [line for line in found["python"] if line.endswith("# from collection meshfed.federation")]
    names = {re.split(r"[<>=!~ ]", line, 1)[0].lower() for line in ours}
    assert {"kubernetes", "cryptography"} <= names, found
    assert any(line.startswith("openssl [platform:rpm]") for line in found["system"]), found


# ---------------------------------------------------------------------------------------------------------------
# Credential type


def check_credential_type(ctype):
    """The checks AWX makes when a credential type is created (schema of inputs and injectors, and every
    injector template rendered with StrictUndefined against the declared fields and file names)."""
    assert set(ctype) <= {"name", "description", "kind", "inputs", "injectors"}
    assert ctype["kind"] == "cloud" and ctype["name"]
    fields = ctype["inputs"]["fields"]
    ids = [field["id"] for field in fields]
    assert len(ids) == len(set(ids))
    for field in fields:
        assert FIELD_ID.match(field["id"]) and field["label"] and field["type"] in ("string", "boolean"), field
    assert set(ctype["inputs"].get("required", [])) <= set(ids)

    injectors = ctype["injectors"]
    assert set(injectors) <= {"file", "env", "extra_vars"}
    assert all(FILE_KEY.match(key) for key in injectors.get("file", {}))
    assert all(ENV_KEY.match(key) and not key.startswith("ANSIBLE_") and key not in ENV_BLOCKED
               for key in injectors.get("env", {}))
    assert all(FIELD_ID.match(key) for key in injectors.get("extra_vars", {}))
    # Multi-file syntax only (AWX refuses mixing `template` with `template.<name>`).
    assert "template" not in injectors.get("file", {})

    namespace = dict((field_id, "EXAMPLE") for field_id in ids)
    tower = TowerNamespace()
    tower.filename = TowerNamespace()
    for key in injectors.get("file", {}):
        setattr(tower.filename, key.split(".", 1)[1], "EXAMPLE_FILENAME")
    namespace["tower"] = tower
    strict = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    for kind in ("file", "env", "extra_vars"):
        for template in injectors.get(kind, {}).values():
            try:
                strict.from_string(template).render(namespace)
            except UndefinedError as e:  # pragma: no cover - the assertion message is the point
                pytest.fail("injector template %r uses an undefined field: %s" % (template, e))


def test_credential_type_is_valid_for_awx():
    ctype = load_yaml(CREDENTIAL_TYPE_FILE)
    check_credential_type(ctype)
    kubeconfig = [field for field in ctype["inputs"]["fields"] if field["id"] == "kubeconfig"][0]
    assert kubeconfig["secret"] is True and kubeconfig["multiline"] is True
    assert "kubeconfig" in ctype["inputs"]["required"]
    injectors = ctype["injectors"]
    # The one kubeconfig reaches both kubernetes.core (env) and the meshfed roles (extra var); an extra var
    # meshfed_context would override every host's own context, so the type must never inject it.
    assert injectors["env"]["K8S_AUTH_KUBECONFIG"] == "{{ tower.filename.kubeconfig }}"
    assert injectors["extra_vars"]["meshfed_kubeconfig"] == "{{ tower.filename.kubeconfig }}"
    assert injectors["file"]["template.kubeconfig"] == "{{ kubeconfig }}"
    assert "meshfed_context" not in injectors["extra_vars"]
    assert "K8S_AUTH_CONTEXT" not in injectors["env"]


def test_render_injectors_writes_the_kubeconfig(tmp_path):
    ctype = load_yaml(CREDENTIAL_TYPE_FILE)
    content = "apiVersion: v1\nkind: Config\n# {{ not a template }}\n"
    env, extra_vars, extra_vars_file, files = render_injectors(ctype, {"kubeconfig": content}, str(tmp_path))
    path = files["template.kubeconfig"]
    with open(path) as f:
        assert f.read() == content                    # input values are data, never templated again
    assert stat.S_IMODE(os.stat(path).st_mode) & 0o007 == 0      # private to the job's user and group
    assert env == {"K8S_AUTH_KUBECONFIG": path}
    assert extra_vars == {"meshfed_kubeconfig": path}
    assert load_yaml(extra_vars_file) == extra_vars


def test_ca_credential_type_is_valid_for_awx():
    ctype = load_yaml(CA_CREDENTIAL_TYPE_FILE)
    check_credential_type(ctype)
    key = [field for field in ctype["inputs"]["fields"] if field["id"] == "ca_key"][0]
    assert key["secret"] is True and key["multiline"] is True
    assert ctype["injectors"]["extra_vars"] == {"pki_ca_cert_path": "{{ tower.filename.ca_cert }}",
                                                "pki_ca_key_path": "{{ tower.filename.ca_key }}"}


def test_ca_credential_feeds_the_pki_role(tmp_path):
    """The pki role, with only what the CA credential injects (`-e @file` with pki_ca_cert_path/pki_ca_key_path
    pointing at the rendered files), issues every cluster's gateway certificate from that CA. No cluster needed:
    the PKI lives on the controller."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel

    cert_pem, key_pem, ca_cert = make_ca()
    env, extra_vars, extra_vars_file, files = render_injectors(
        load_yaml(CA_CREDENTIAL_TYPE_FILE), {"ca_cert": cert_pem, "ca_key": key_pem}, str(tmp_path / "runner"))
    assert not env and set(files) == {"template.ca_cert", "template.ca_key"}
    assert extra_vars == {"pki_ca_cert_path": files["template.ca_cert"], "pki_ca_key_path": files["template.ca_key"]}
    playbook = tmp_path / "pki.yml"
    playbook.write_text(u"- name: Issue certificates\n  hosts: meshfed_clusters\n  gather_facts: false\n"
                        u"  roles:\n    - meshfed.federation.pki\n")
    pki_dir = str(tmp_path / "pki")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    done = subprocess.run(["ansible-playbook", str(playbook), "-i", os.path.join(REPO, "inventories", "lab"),
                           "-e", "@" + extra_vars_file, "-e", "meshfed_pki_dir=" + pki_dir],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    clusters = load_yaml(os.path.join(REPO, "inventories", "lab", "hosts.yml"))["all"]["children"][
        "meshfed_clusters"]["hosts"]
    for cluster in clusters:
        with open(os.path.join(pki_dir, cluster + ".crt"), "rb") as f:
            leaf = x509.load_pem_x509_certificate(f.read())
        assert leaf.issuer == ca_cert.subject, cluster
        leaf.verify_directly_issued_by(ca_cert)


# ---------------------------------------------------------------------------------------------------------------
# The rendered credential against the lab


@pytest.fixture(scope="module")
def injected(lab, tmp_path_factory):
    """The lab's kubeconfig as the credential's input, rendered as AWX would for a job."""
    with open(lab.kubeconfig) as f:
        content = f.read()
    private_data_dir = str(tmp_path_factory.mktemp("runner"))
    env, extra_vars, extra_vars_file, files = render_injectors(
        load_yaml(CREDENTIAL_TYPE_FILE), {"kubeconfig": content}, private_data_dir)
    return {"env": env, "extra_vars": extra_vars, "extra_vars_file": extra_vars_file,
            "kubeconfig": files["template.kubeconfig"], "dir": private_data_dir}


def job_environment(injected):
    """A job's environment: ours minus every other way to find a cluster, plus the injected variables."""
    env = without_clusters(injected["dir"])
    env.update(ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    env.update(injected["env"])
    return env


@pytest.mark.lab
def test_injected_kubeconfig_reaches_every_cluster(lab, injected):
    assert lab.contexts
    for context in lab.contexts:
        done = subprocess.run([getattr(lab, "kubectl_binary", None) or "kubectl",
                               "--kubeconfig", injected["kubeconfig"], "--context", context,
                               "get", "ns", "default", "-o", "name"],
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0 and done.stdout.strip() == "namespace/default", (context, done.stderr)


@pytest.mark.lab
def test_kubernetes_core_uses_the_injected_env(lab, injected):
    """kubernetes.core modules with no kubeconfig argument find the file through K8S_AUTH_KUBECONFIG."""
    env = job_environment(injected)
    for context in lab.contexts:
        done = subprocess.run(["ansible", "localhost", "-m", "kubernetes.core.k8s_info",
                               "-a", "kind=Namespace name=default context=%s" % context],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, (context, done.stdout[-3000:], done.stderr[-3000:])
        assert '"name": "default"' in done.stdout, (context, done.stdout[-3000:])


@pytest.mark.lab
def test_status_playbook_with_the_injected_credential(lab, injected):
    """status.yml on the lab inventory with only what the injectors give a job: K8S_AUTH_KUBECONFIG and the
    extra vars file (`-e @file`, as AWX passes it). The inventory's own kubeconfig path points nowhere here, so
    every cluster reported reachable was reached through the injected file. (federation_info reports an
    unreachable cluster instead of failing, so reachability is read from its results, not from the rc.) No link
    probes: this job has no gateway certificates (the lab's PKI directory points nowhere too) and runs outside
    the lab's network; test_awx_runner.py runs whole jobs with them."""
    env = job_environment(injected)
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    done = subprocess.run(["ansible-playbook", os.path.join(REPO, "playbooks", "status.yml"),
                           "-i", os.path.join(REPO, "inventories", "lab"), "-e", "@" + injected["extra_vars_file"],
                           "-e", "meshfed_probe=false"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    run = PlaybookRun(done)
    assert run.rc == 0, done.stdout[-5000:] + done.stderr[-3000:]
    clusters = load_yaml(os.path.join(REPO, "inventories", "lab", "hosts.yml"))["all"]["children"][
        "meshfed_clusters"]["hosts"]
    seen = {}
    for dummy, host, res in run.task_results("federation_info"):
        if res.get("skipped"):        # the read of the gateway addresses the probes would use
            continue
        seen[host] = res["cluster"]
        assert res["cluster"].get("reachable") is True and not res["cluster"].get("error"), (host, res["cluster"])
    assert sorted(seen) == sorted(clusters)
    assert not run.changed_tasks()
