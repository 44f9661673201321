# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module's arguments, in one place: the option groups the modules share (matched one to one by the doc
fragments in plugins/doc_fragments) and, per module, its AnsibleModule keywords (``*_MODULE``), which the module
and the action plugin running it in-process both use."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki
from ansible_collections.meshfed.federation.plugins.module_utils.pki import rotation as pki_rotation

# doc fragment meshfed.federation.kubernetes_auth: kubernetes.core's connection options (its AUTH_ARG_SPEC, whose
# client reads the K8S_AUTH_* environment itself), kept here so that the modules take them, documented, whatever
# kubernetes.core is installed or not (without it, the modules that reach a cluster fail with
# apply/client.KUBERNETES_CORE_MISSING). kubeconfig is no_log, as before kubernetes.core 6.3: meshfed's modules are plain
# AnsibleModules, which would show an inline kubeconfig's tokens. A unit test compares it with kubernetes.core's.
AUTH_ARG_SPEC = dict(
    kubeconfig=dict(type="raw", no_log=True),
    context=dict(),
    host=dict(),
    api_key=dict(no_log=True),
    username=dict(),
    password=dict(no_log=True),
    validate_certs=dict(type="bool", aliases=["verify_ssl"]),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"]),
    client_cert=dict(type="path", aliases=["cert_file"]),
    client_key=dict(type="path", aliases=["key_file"]),
    proxy=dict(type="str"),
    no_proxy=dict(type="str"),
    proxy_headers=dict(type="dict", options=dict(
        proxy_basic_auth=dict(type="str", no_log=True),
        basic_auth=dict(type="str", no_log=True),
        user_agent=dict(type="str"),
    )),
    persist_config=dict(type="bool"),
    impersonate_user=dict(),
    impersonate_groups=dict(type="list", elements="str"),
)

# doc fragment meshfed.federation.federation
FEDERATION_ARG_SPEC = dict(
    federation=dict(type="dict", required=True),
    cluster=dict(type="str", required=True),
)

# doc fragment meshfed.federation.apply
APPLY_ARG_SPEC = dict(
    state=dict(type="str", choices=["present", "absent", "rendered"], default="present"),
    force=dict(type="bool", default=False),
    prune=dict(type="bool", default=True),
    wait=dict(type="bool", default=False),
    wait_timeout=dict(type="int", default=300),
    preflight=dict(type="bool", default=False),
    render_dir=dict(type="path"),
)

# doc fragment meshfed.federation.credential: the PEM files of one cluster's gateway certificate on the controller
# (the pki role's directory): what private_gateway delivers to the cluster and what federation_info probes with.
CREDENTIAL_ARG_SPEC = dict(credential=dict(type="dict", options=dict(
    cert_path=dict(type="path", required=True),
    key_path=dict(type="path", required=True, no_log=False),
    ca_path=dict(type="path", required=True),
    party_ca_paths=dict(type="dict", default={}),
)))

# cluster name -> {address, port} of the peers' gateways found by discovery (discovered_gateway_addresses filter)
PEER_ARG_SPEC = dict(peer_addresses=dict(type="dict", default={}))

# private_gateway's own
GATEWAY_ARG_SPEC = dict(discover_address=dict(type="bool"),
                        discover_timeout=dict(type="int", default=180),
                        render_secrets=dict(type="bool", default=False))

PROBE_ARG_SPEC = dict(probe=dict(type="bool", default=False),
                      probe_timeout=dict(type="float", default=3.0),
                      probe_expiry_days=dict(type="int", default=14),
                      query=dict(type="str"))

FEDERATION_PKI_ARG_SPEC = dict(
    path=dict(type="path", required=True),
    federation_name=dict(type="str", required=True),
    ca=dict(type="dict", default={}, options=dict(
        common_name=dict(type="str", default=pki.DEFAULT_CA_COMMON_NAME),
        key_type=dict(type="str", choices=list(pki.KEY_TYPES), default=pki.DEFAULT_KEY_TYPE),
        validity_days=dict(type="int", default=pki.DEFAULT_CA_VALIDITY_DAYS),
        renewal_days=dict(type="int", default=pki.DEFAULT_CA_RENEWAL_DAYS),
        cert_path=dict(type="path"),
        key_path=dict(type="path", no_log=False),
    ), required_together=[("cert_path", "key_path")]),
    clusters=dict(type="list", elements="dict", required=True, options=dict(
        name=dict(type="str", required=True),
        identity=dict(type="str", required=True),
    )),
    key_type=dict(type="str", choices=list(pki.KEY_TYPES), default=pki.DEFAULT_KEY_TYPE),
    validity_days=dict(type="int", default=pki.DEFAULT_VALIDITY_DAYS),
    renewal_days=dict(type="int", default=pki.DEFAULT_RENEWAL_DAYS),
    force=dict(type="bool", default=False),
    rotate_ca=dict(type="bool", default=False),
    ca_rotation_stage=dict(type="str", choices=list(pki_rotation.STAGES)),
    ca_scope=dict(type="str", choices=["federation", "cluster"], default="federation"),
)


def argument_spec(*specs):
    merged = {}
    for spec in specs:
        merged.update(copy.deepcopy(spec))
    return merged


def auth_params(params):
    """The kubernetes.core connection options that were given, for kube_client.ClusterClient."""
    return dict((k, params[k]) for k in AUTH_ARG_SPEC if params.get(k) is not None)


PRIVATE_GATEWAY_MODULE = dict(
    argument_spec=argument_spec(AUTH_ARG_SPEC, FEDERATION_ARG_SPEC, APPLY_ARG_SPEC, CREDENTIAL_ARG_SPEC,
                                GATEWAY_ARG_SPEC),
    required_if=[("state", "present", ["credential"]), ("render_secrets", True, ["credential"])],
    supports_check_mode=True)
SERVICE_EXPORT_MODULE = dict(argument_spec=argument_spec(AUTH_ARG_SPEC, FEDERATION_ARG_SPEC, APPLY_ARG_SPEC),
                             supports_check_mode=True)
SERVICE_IMPORT_MODULE = dict(argument_spec=argument_spec(AUTH_ARG_SPEC, FEDERATION_ARG_SPEC, APPLY_ARG_SPEC,
                                                         PEER_ARG_SPEC),
                             supports_check_mode=True)
# the modules of the cluster roles, in the order a run converges them (the gateway's discovered address first)
CLUSTER_ROLES = ("private_gateway", "service_export", "service_import")
# federated_cluster: per cluster role, that role module's own options (those of its task in the role); the connection,
# federation, cluster and preflight are the task's, for every role. Each role module checks its options as it would alone.
FEDERATED_CLUSTER_MODULE = dict(
    argument_spec=argument_spec(AUTH_ARG_SPEC, FEDERATION_ARG_SPEC, dict(
        roles=dict(type="list", elements="str", choices=list(CLUSTER_ROLES), default=list(CLUSTER_ROLES)),
        preflight=dict(type="bool", default=False),
        private_gateway=dict(type="dict", default={}),
        service_export=dict(type="dict", default={}),
        service_import=dict(type="dict", default={}))),
    supports_check_mode=True)
FEDERATION_INFO_MODULE = dict(argument_spec=argument_spec(AUTH_ARG_SPEC, FEDERATION_ARG_SPEC, PEER_ARG_SPEC,
                                                          PROBE_ARG_SPEC, CREDENTIAL_ARG_SPEC),
                              required_if=[("probe", True, ["credential"])], supports_check_mode=True)
FEDERATION_MODEL_MODULE = dict(argument_spec=dict(federation=dict(type="dict", required=True),
                                                  peer_state_dir=dict(type="path")),
                               supports_check_mode=True)
FEDERATION_PKI_MODULE = dict(argument_spec=FEDERATION_PKI_ARG_SPEC, supports_check_mode=True)
PEERING_BUNDLE_MODULE = dict(
    argument_spec=argument_spec(dict(
        federation=dict(type="dict", required=True),
        state=dict(type="str", choices=["issued", "recorded"], default="issued"),
        recipients=dict(type="list", elements="str", default=[]),
        dest=dict(type="path"),
        signer_cert_path=dict(type="path"),
        signer_key_path=dict(type="path", no_log=False),
        ca_paths=dict(type="list", elements="path", default=[]),
        validity_days=dict(type="int", default=30),
        renewal_days=dict(type="int", default=10),
        peer_state_dir=dict(type="path"),
    ), PEER_ARG_SPEC),
    required_if=[("state", "recorded", ["peer_state_dir"])],
    supports_check_mode=True)
FEDERATION_LOCK_MODULE = dict(
    argument_spec=argument_spec(AUTH_ARG_SPEC, dict(
        federation_name=dict(type="str", required=True),
        cluster=dict(type="str", required=True),
        state=dict(type="str", choices=["acquired", "released"], default="acquired"),
        namespace=dict(type="str", default="kube-system"),
        duration=dict(type="int", default=1800),
        timeout=dict(type="int", default=0),
        break_lock=dict(type="bool", default=False),
    )),
    supports_check_mode=True)
