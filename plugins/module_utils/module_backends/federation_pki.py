# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation_pki module's work: keep a directory of the federation's root CA and one gateway certificate per
cluster, issuing what is missing, renewing what is invalid or about to expire, reporting why (the certificates
themselves are built by pki/certificates.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import missing_required_lib
import datetime
import os
import re
import stat
import traceback
from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki
from ansible_collections.meshfed.federation.plugins.module_utils.pki import rotation
from ansible_collections.meshfed.federation.plugins.module_utils.model.checks import is_dns_name
from ansible_collections.meshfed.federation.plugins.module_utils.pki.directory import cluster_pki_dir

CLUSTER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
PENDING = None  # serial/fingerprint of a certificate check mode would generate


def validate(params):
    """Every problem with the parameters, one string each."""
    errors = []
    ca = params["ca"]
    for prefix, validity, renewal in (("", params["validity_days"], params["renewal_days"]),
                                      ("ca.", ca["validity_days"], ca["renewal_days"])):
        if validity < 1:
            errors.append("%svalidity_days must be at least 1" % prefix)
        if renewal < 0 or renewal >= validity:
            errors.append("%srenewal_days (%d) must be between 0 and %svalidity_days (%d) exclusive, else every "
                          "run would regenerate" % (prefix, renewal, prefix, validity))
    if ca["cert_path"] and params["ca_scope"] == "cluster":
        errors.append("ca.cert_path (a user-supplied CA) is one CA for every cluster; with ca_scope=cluster each "
                      "cluster gets a CA of its own")
    if ca["cert_path"] and params["rotate_ca"]:
        errors.append("rotate_ca cannot rotate a user-supplied CA; point ca.cert_path/ca.key_path at the new CA")
    if ca["cert_path"] and params["ca_rotation_stage"]:
        errors.append("ca_rotation_stage rotates the generated CA; a user-supplied CA is rotated where it is kept")
    if params["rotate_ca"] and params["ca_rotation_stage"]:
        errors.append("rotate_ca replaces the CA at once; ca_rotation_stage rotates it in stages: choose one")
    seen = set()
    for index, cluster in enumerate(params["clusters"]):
        name, identity = cluster["name"], cluster["identity"]
        where = "clusters[%d] (%s)" % (index, name)
        if not CLUSTER_NAME.match(name) or name == "ca":
            errors.append("%s: name must be letters, digits, '.', '_' or '-' (not starting with '.' or '-') and not "
                          "'ca', as it names the files <name>.crt and <name>.key" % where)
        if name in seen:
            errors.append("%s: duplicate cluster name" % where)
        seen.add(name)
        if not is_dns_name(identity):
            errors.append("%s: identity %r is not a lowercase DNS name" % (where, identity))
    return errors


def predicted(subject, issuer, sans, key_type, validity_days, now):
    return {
        "subject": subject, "issuer": issuer, "sans": sans, "serial": PENDING,
        "not_before": (now - pki.BACKDATE).isoformat(),
        "not_after": (now + datetime.timedelta(days=validity_days)).isoformat(),
        "key_type": key_type, "fingerprint_sha256": PENDING,
    }


def summary(meta, now):
    not_after = datetime.datetime.fromisoformat(meta["not_after"])
    return {
        "serial": meta["serial"],
        "not_after": meta["not_after"],
        "days_left": int((not_after - now).total_seconds() // 86400),
        "fingerprint_sha256": meta["fingerprint_sha256"],
    }


def metadata_or_none(pem):
    if pem is None:
        return None
    try:
        return pki.cert_metadata(pki.load_cert(pem))
    except pki.PKIError:
        return {"unreadable": True}


class Run(object):
    """One CA and the certificates it issues, in one directory: ``path`` (default the path option), for
    ``clusters`` (default the clusters option)."""

    def __init__(self, module, path=None, clusters=None):
        self.module = module
        self.params = dict(module.params, clusters=clusters if clusters is not None else module.params["clusters"])
        self.check = module.check_mode
        self.now = pki.utcnow()
        self.path = path or self.params["path"]
        self.changed = False
        self.before = {"ca": None, "clusters": {}}
        self.after = {"ca": None, "clusters": {}}
        self.permissions_fixed = []

    def write(self, path, data, mode):
        pki.write_atomic(path, data, mode)
        self.changed = True

    def keep_key_mode(self, key_path):
        if self.check:
            try:
                if stat.S_IMODE(os.stat(key_path).st_mode) != pki.KEY_MODE:
                    self.permissions_fixed.append(key_path)
                    self.changed = True
            except OSError:
                pass
        elif pki.fix_mode(key_path, pki.KEY_MODE):
            self.permissions_fixed.append(key_path)
            self.changed = True

    # ----------------------------------------------------------------- CA

    def ca(self):
        """(ca_cert or None when check mode would regenerate it, ca_key, regenerated, info)."""
        params, ca = self.params, self.params["ca"]
        cert_file = "%s/ca.crt" % self.path
        old_pem = pki.read_bytes(cert_file)
        self.before["ca"] = metadata_or_none(old_pem)
        if ca["cert_path"]:
            try:
                ca_cert, ca_key = pki.check_user_ca(pki.read_bytes(ca["cert_path"]), pki.read_bytes(ca["key_path"]),
                                                    self.now)
            except pki.PKIError as error:
                self.module.fail_json(msg=str(error))
            pem = pki.cert_to_pem(ca_cert)
            reasons = []
            if old_pem is None:
                reasons = [pki.reason("missing", "no copy of the user-supplied CA certificate")]
            elif old_pem != pem:
                reasons = [pki.reason("user_ca", "%s is not a copy of %s" % (cert_file, ca["cert_path"]))]
            if reasons and not self.check:
                self.write(cert_file, pem, pki.CERT_MODE)
            self.changed = self.changed or bool(reasons)
            meta = pki.cert_metadata(ca_cert)
            self.after["ca"] = meta
            info = dict(cert_path=cert_file, key_path=ca["key_path"], user_supplied=True, subject=meta["subject"],
                        reasons=reasons, **summary(meta, self.now))
            return ca_cert, ca_key, False, info

        key_file = "%s/ca.key" % self.path
        org = params["federation_name"]
        if params["rotate_ca"]:
            reasons = [pki.reason("force", "rotate_ca requested")]
        else:
            reasons = pki.ca_reasons(old_pem, pki.read_bytes(key_file), ca["common_name"], org, ca["key_type"],
                                     ca["renewal_days"], self.now)
        ca_cert = ca_key = None
        if reasons:
            self.changed = True
            if self.check:
                subject = pki.ca_subject(ca["common_name"], org)
                meta = predicted(subject, subject, [], ca["key_type"], ca["validity_days"], self.now)
            else:
                ca_key = pki.generate_key(ca["key_type"])
                ca_cert = pki.build_ca(ca_key, ca["common_name"], org, ca["validity_days"], self.now)
                self.write(key_file, pki.key_to_pem(ca_key), pki.KEY_MODE)
                self.write(cert_file, pki.cert_to_pem(ca_cert), pki.CERT_MODE)
                meta = pki.cert_metadata(ca_cert)
        else:
            ca_cert = pki.load_cert(old_pem)
            ca_key = pki.load_key(pki.read_bytes(key_file))
            self.keep_key_mode(key_file)
            meta = pki.cert_metadata(ca_cert)
        self.after["ca"] = meta
        info = dict(cert_path=cert_file, key_path=key_file, user_supplied=False, subject=meta["subject"],
                    reasons=reasons, **summary(meta, self.now))
        return ca_cert, ca_key, bool(reasons), info

    # ----------------------------------------------------------------- leaves

    def leaf(self, cluster, ca_cert, ca_key, ca_regenerated, ca_subject, ca_not_after):
        params = self.params
        name, identity = cluster["name"], cluster["identity"]
        cert_file, key_file = "%s/%s.crt" % (self.path, name), "%s/%s.key" % (self.path, name)
        old_pem, old_key = pki.read_bytes(cert_file), pki.read_bytes(key_file)
        self.before["clusters"][name] = metadata_or_none(old_pem)
        reasons = []
        if params["force"]:
            reasons.append(pki.reason("force", "force requested"))
        if ca_regenerated:
            reasons.append(pki.reason("ca_regenerated", "the CA is new"))
        if not reasons:
            reasons = pki.leaf_reasons(old_pem, old_key, identity, ca_cert, params["key_type"],
                                       params["renewal_days"], self.now)
        if reasons:
            self.changed = True
            if self.check:
                meta = predicted("CN=%s" % identity, ca_subject, pki.expected_san_strings(identity),
                                 params["key_type"], params["validity_days"], self.now)
            else:
                key = pki.generate_key(params["key_type"])
                cert = pki.build_leaf(key, identity, ca_cert, ca_key, params["validity_days"], self.now)
                self.write(key_file, pki.key_to_pem(key), pki.KEY_MODE)
                self.write(cert_file, pki.cert_to_pem(cert), pki.CERT_MODE)
                meta = pki.cert_metadata(cert)
        else:
            self.keep_key_mode(key_file)
            meta = pki.cert_metadata(pki.load_cert(old_pem))
        self.after["clusters"][name] = meta
        if meta["not_after"] > ca_not_after:
            self.module.warn("the certificate of %s (until %s) outlives its CA (until %s); peers will reject it "
                             "after the CA expires" % (name, meta["not_after"], ca_not_after))
        return dict(identity=identity, cert_path=cert_file, key_path=key_file, ca_path="%s/ca.crt" % self.path,
                    reasons=reasons, **summary(meta, self.now))

    def issue(self):
        """The CA and the gateway certificates of the directory, issued or renewed where needed."""
        if not os.path.isdir(self.path):
            self.changed = True
            if not self.check:
                pki.ensure_dir(self.path)
        ca_cert, ca_key, ca_regenerated, ca_info = self.ca()
        clusters = {}
        for cluster in self.params["clusters"]:
            clusters[cluster["name"]] = self.leaf(cluster, ca_cert, ca_key, ca_regenerated, ca_info["subject"],
                                                  ca_info["not_after"])
        return ca_info, clusters

    def rotate(self):
        """Move the directory to the stage asked for (ca_rotation_stage); the stage it is in after."""
        if pki.read_bytes("%s/ca.crt" % self.path) is None:
            return None  # nothing to rotate: the CA this run makes is the new one
        stage = rotation.stage_of(self.path)
        try:
            action = rotation.transition(stage, self.params["ca_rotation_stage"])
        except rotation.RotationError as error:
            raise rotation.RotationError("%s: %s" % (self.path, error))
        if action:
            self.changed = True
        if not self.check:
            if action == "promote" or (stage == "issue" and os.path.isdir(rotation.next_dir(self.path))):
                rotation.promote(self.path)
            elif action == "drop":
                rotation.drop(self.path)
        return rotation.stage_after(stage, action)

    def trust(self, stage):
        """Keep trusted-cas.pem, what the gateways trust: the CA, and during a rotation the other one too."""
        path = rotation.trusted_cas_path(self.path)
        if self.check:
            return path
        pem = rotation.trusted_cas(self.path, stage)
        if pki.read_bytes(path) != pem:
            self.write(path, pem, pki.CERT_MODE)
        return path

    def run(self):
        stage = self.rotate()
        ca_info, clusters = self.issue()
        result = dict(ca=ca_info, clusters=clusters, permissions_fixed=self.permissions_fixed,
                      rotation=dict(stage=stage or "none"))
        if stage == "trust":
            upcoming = Run(self.module, rotation.next_dir(self.path), self.params["clusters"])
            result["rotation"]["next"] = dict(zip(("ca", "clusters"), upcoming.issue()))
            self.changed = self.changed or upcoming.changed
            self.permissions_fixed.extend(upcoming.permissions_fixed)
            self.before["next"], self.after["next"] = upcoming.before, upcoming.after
        elif stage == "issue":
            result["rotation"]["previous"] = {"ca": summary(pki.cert_metadata(pki.load_cert(
                pki.read_bytes(rotation.previous_ca_path(self.path)))), self.now)} if not self.check else {}
        result["trusted_cas_path"] = self.trust(stage)
        result["changed"] = self.changed
        if self.module._diff:
            result["diff"] = dict(before=self.before, after=self.after)
        return result


def run_per_cluster(module):
    """A CA per cluster (ca_scope=cluster), each with its cluster's certificate, in ``<path>/<cluster>``."""
    if not os.path.isdir(module.params["path"]) and not module.check_mode:
        pki.ensure_dir(module.params["path"])
    result = dict(changed=False, ca=None, cas={}, clusters={}, permissions_fixed=[], rotations={})
    diff = dict(before={}, after={})
    for cluster in module.params["clusters"]:
        one = Run(module, cluster_pki_dir(module.params["path"], cluster["name"], "cluster"), [cluster]).run()
        result["changed"] = result["changed"] or one["changed"]
        result["cas"][cluster["name"]] = one["ca"]
        result["rotations"][cluster["name"]] = one["rotation"]
        result["clusters"].update(one["clusters"])
        result["permissions_fixed"].extend(one["permissions_fixed"])
        for side in ("before", "after"):
            if "diff" in one:
                diff[side][cluster["name"]] = one["diff"][side]
    stages = set(one["stage"] for one in result["rotations"].values())
    result["rotation"] = dict(stage=stages.pop() if len(stages) == 1 else "mixed")
    if module._diff:
        result["diff"] = diff
    return result


def run_federation_pki(module):
    """Issue, keep or renew the certificates of ``module.params['path']`` (module.exit_json/fail_json)."""
    if not pki.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=str(pki.CRYPTOGRAPHY_IMPORT_ERROR))
    errors = validate(module.params)
    if errors:
        module.fail_json(msg="invalid federation_pki parameters: %s" % "; ".join(errors), errors=errors)
    try:
        if module.params["ca_scope"] == "federation":
            result = Run(module).run()
        else:
            result = run_per_cluster(module)
    except rotation.RotationError as error:
        module.fail_json(msg="federation_pki: ca_rotation_stage %s: %s" % (module.params["ca_rotation_stage"], error))
    except (pki.PKIError, OSError) as error:
        module.fail_json(msg="federation_pki: %s" % error, exception=traceback.format_exc())
    module.exit_json(**result)
