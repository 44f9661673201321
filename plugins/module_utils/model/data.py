# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The validated model as plain data: what federation_model hands on, so no module validates it again."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.model.settings import Settings
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import (
    Cluster, Export, Federation, GatewayAddress, Grant, Import, LocalSource, OutlierDetection, Peer, Quota, RemoteSource,
    Retries, ServiceRef, Subset, TcpKeepalive)

MODEL_TYPES = dict((t.__name__, t) for t in (Settings, TcpKeepalive, ServiceRef, Subset, GatewayAddress, Quota, Grant, Export,
                                             RemoteSource, LocalSource, Retries, OutlierDetection, Import, Cluster, Peer,
                                             Federation))
# a namedtuple is {TYPE_KEY: its type, VALUES_KEY: its fields in order}: neither key can be a label key or a
# cluster name (those start with a letter, a digit or '_')
TYPE_KEY = "@type"
VALUES_KEY = "@values"


def model_data(value):
    """The model as JSON-able data: namedtuples tagged with their type, tuples as lists."""
    if isinstance(value, tuple) and type(value).__name__ in MODEL_TYPES:
        return {TYPE_KEY: type(value).__name__, VALUES_KEY: [model_data(v) for v in value]}
    if isinstance(value, (tuple, list)):
        return [model_data(v) for v in value]
    if isinstance(value, dict):
        return dict((k, model_data(v)) for k, v in value.items())
    return value


def model_from_data(data):
    """The model ``model_data`` gave; KeyError or TypeError for data of another shape."""
    if isinstance(data, dict) and TYPE_KEY in data:
        return MODEL_TYPES[data[TYPE_KEY]](*[model_from_data(v) for v in data[VALUES_KEY]])
    if isinstance(data, list):
        return tuple(model_from_data(v) for v in data)
    if isinstance(data, dict):
        return dict((k, model_from_data(v)) for k, v in data.items())
    return data
