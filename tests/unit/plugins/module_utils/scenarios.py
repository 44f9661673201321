# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventories shared by the model and rendering tests (the clusters part of ``build_model``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

# The seed blog's scenario: cluster1 `default` consumes reviews v2 (50/50 against its local reviews v1) and
# details from cluster2 `bookinfo`, where the reviews service is called `myreviews`.
SEED = {
    "cluster1": {
        "identity": "c1.example.com",
        "imports": [
            {"name": "reviews", "namespace": "default", "port": 9080,
             "local": {"subset": {"name": "v1", "labels": {"version": "v1"}}, "weight": 50},
             "from": [{"cluster": "cluster2", "export": "reviews-v2", "weight": 50}],
             "timeout": "5s", "retries": {"attempts": 3, "per_try_timeout": "2s", "retry_on": "5xx,connect-failure"}},
            {"name": "details", "namespace": "default", "port": 9080,
             "from": [{"cluster": "cluster2", "export": "details"}]},
        ],
    },
    "cluster2": {
        "identity": "c2.example.com",
        "gateway_address": {"address": "127.0.0.1", "port": 15443},
        "exports": [
            {"name": "reviews-v2", "service": {"namespace": "bookinfo", "name": "myreviews", "port": 9080},
             "subset": {"name": "v2", "labels": {"version": "v2"}}, "consumers": ["cluster1"]},
            {"name": "details", "service": {"namespace": "bookinfo", "name": "details", "port": 9080},
             "consumers": ["cluster1"], "probe_path": "/details/0"},   # the link probes' GET: renders nothing
        ],
    },
}

# Three clusters: cluster1 consumes `helloworld` from cluster2 (v2) and cluster3 (v1) under one local name,
# 50/50 (the reference examples); cluster3 also exports a tcp service to cluster2 only.
THREE_CLUSTERS = {
    "cluster1": {
        "identity": "c1.example.com",
        "imports": [
            {"name": "hw", "namespace": "default", "port": 5000,
             "from": [{"cluster": "cluster2", "export": "helloworld", "weight": 50},
                      {"cluster": "cluster3", "export": "helloworld", "weight": 50}]},
        ],
    },
    "cluster2": {
        "identity": "c2.example.com",
        "gateway_address": "gw.c2.example.com:15443",
        "exports": [
            {"name": "helloworld", "service": {"namespace": "sample", "name": "helloworld", "port": 5000},
             "subset": {"name": "v2", "labels": {"version": "v2"}}, "path_prefix": "/hello",
             "consumers": ["cluster1"]},
        ],
        "imports": [
            {"name": "db", "namespace": "apps", "port": 5432, "protocol": "tcp",
             "from": [{"cluster": "cluster3", "export": "postgres"}]},
        ],
    },
    "cluster3": {
        "identity": "c3.example.com",
        "gateway_address": {"address": "127.0.0.3"},
        "exports": [
            {"name": "helloworld", "service": {"namespace": "sample", "name": "helloworld", "port": 5000},
             "subset": {"name": "v1", "labels": {"version": "v1"}}, "consumers": ["cluster1"]},
            {"name": "postgres", "service": {"namespace": "data", "name": "pg", "port": 5432}, "protocol": "tcp",
             "consumers": ["cluster2"]},
        ],
    },
}

# The scenarios' peers listen on loopback addresses, as in a lab on one machine: the model refuses those
# unless this setting allows them.
LOCAL_ADDRESSES = {"allow_local_gateway_addresses": True}

CREDENTIAL = {"cert": "-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n",
              "key": "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n",
              "ca": "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"}


def seed():
    return copy.deepcopy(SEED)


def three_clusters():
    return copy.deepcopy(THREE_CLUSTERS)


def settings(**values):
    """Federation-wide settings for the scenarios: theirs (local gateway addresses allowed) and ``values``."""
    return dict(LOCAL_ADDRESSES, **values)
