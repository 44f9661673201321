# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation handed from federation_model to the cluster modules: validated once, then taken as it is."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.module_backends import validated_model as handover
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.federation_model import run_federation_model
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import FEDERATION_MODEL_MODULE
from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import FederationModelError
from ansible_collections.meshfed.federation.plugins.plugin_utils.in_process import run_in_process
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.scenarios import seed, settings, three_clusters


def description(clusters):
    return {"clusters": clusters, "settings": settings(federation_name="demo")}


@pytest.mark.parametrize("clusters", [seed, three_clusters])
def test_the_validated_federation_survives_json_and_is_the_model_of_its_description(clusters):
    validated = handover.validated(build_model(clusters(), settings(federation_name="demo")))
    travelled = json.loads(json.dumps(validated))  # a registered variable, an option, a module's arguments
    assert handover.read_federation(travelled)[0] == build_model(clusters(), settings(federation_name="demo"))


def test_the_validated_federation_is_one_string_for_ansible_to_pass_on():
    # a task templates and copies every value of a nested option: the model travels as one JSON text
    validated = handover.validated(build_model(three_clusters(), settings()))
    assert list(validated) == ["model"] and isinstance(validated["model"], str)
    with pytest.raises(ValueError, match="federation.model is not what federation_model returns"):
        handover.read_federation({"model": validated["model"][:-1]})


def test_the_validated_federation_is_not_validated_again(monkeypatch):
    validated = json.loads(json.dumps(handover.validated(build_model(seed(), settings()))))

    def no_validation(*args):
        raise AssertionError("validated again")

    monkeypatch.setattr(handover, "build_model", no_validation)
    assert sorted(handover.read_federation(validated)[0].clusters) == ["cluster1", "cluster2"]
    with pytest.raises(AssertionError, match="validated again"):
        handover.read_federation(description(seed()))[0]


def test_a_description_is_validated_with_every_problem_and_a_changed_model_is_refused():
    broken = seed()
    broken["cluster1"]["identity"] = "Not A DNS Name"
    with pytest.raises(FederationModelError, match="cluster1"):
        handover.read_federation(description(broken))[0]
    validated = json.loads(json.dumps(handover.validated(build_model(seed(), settings()))))
    model = json.loads(validated["model"])
    del model["@values"][0]["@values"][0]  # a setting less
    validated["model"] = json.dumps(model)
    with pytest.raises(ValueError, match="federation.model is not what federation_model returns"):
        handover.read_federation(validated)[0]


def test_federation_model_reports_each_cluster_like_federation_info_and_what_needs_discovery():
    clusters = seed()
    clusters["cluster2"]["gateway_address"] = "discover"
    result = run_in_process(FEDERATION_MODEL_MODULE, run_federation_model,
                            {"federation": description(clusters)}, check_mode=False, diff=False)
    assert result["needs_address_discovery"] == ["cluster2"]
    assert result["clusters"]["cluster2"]["gateway_address"] == "discover"
    assert result["clusters"]["cluster1"]["imports"][0]["sources"] == [
        {"cluster": "cluster2", "export": "reviews-v2", "weight": 50}]
    assert result["clusters"]["cluster2"]["exports"][0]["service"] == "bookinfo/myreviews:9080"
