# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Istio minor version of a cluster's istiod, as far as what meshfed renders depends on it: the
meshfed_istio_version setting, or istiod's Deployment (its app.kubernetes.io/version label, else its image tag)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

AUTO = "auto"
VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:[.\-+_].*)?$")
# Gateway servers take caCertCredentialName (a CA-only Secret beside credentialName's) from Istio 1.28 on
CA_CERT_CREDENTIAL_SINCE = (1, 28)
VERSION_LABEL = "app.kubernetes.io/version"
ISTIOD_CONTAINER = "discovery"


def parse_version(text):
    """(major, minor) of '1.28', '1.28.2', 'v1.28.0-distroless' and the like; None for anything else."""
    match = VERSION.match(text) if isinstance(text, str) else None
    return (int(match.group(1)), int(match.group(2))) if match else None


def image_tag(image):
    """The tag of an image reference (none for a digest-only or untagged reference)."""
    name = (image or "").split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rpartition(":")[2] if ":" in last else None


def istiod_version(deployment):
    """(major, minor) of the istiod a Deployment runs, or None when neither its version label nor its image tag
    says (or there is no Deployment: a managed control plane, or istiod outside the cluster)."""
    if not deployment:
        return None
    labels = (deployment.get("metadata") or {}).get("labels") or {}
    version = parse_version(labels.get(VERSION_LABEL))
    if version:
        return version
    containers = ((((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [])
    named = [c for c in containers if c.get("name") == ISTIOD_CONTAINER] or containers[:1]
    return parse_version(image_tag(named[0].get("image"))) if named else None


def setting_version(value):
    """The version meshfed_istio_version names, or None for auto (to be read from the cluster)."""
    return None if value == AUTO else parse_version(value)


def separates_ca(version, cert_delivery):
    """Whether a gateway server takes its consumers' CA from a Secret of its own (caCertCredentialName), so the
    private key is in one Secret only: Istio 1.28 or later, certificates delivered by SDS."""
    return cert_delivery == "sds" and version is not None and tuple(version) >= CA_CERT_CREDENTIAL_SINCE
