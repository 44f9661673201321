# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation_report filter: formats, what it refuses, and Graphviz's dot (real when installed, else faked)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shutil
import subprocess

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.meshfed.federation.plugins.filter import federation_report as plugin
from ansible_collections.meshfed.federation.plugins.filter.federation_report import (
    FilterModule, dot_to_svg, federation_report)
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.report_scenario import clusters

NOW = "2025-06-01T10:16:00+00:00"


def test_the_filter_is_registered():
    assert FilterModule().filters() == {"federation_report": federation_report}


def test_markdown_needs_no_dot(monkeypatch):
    def no_dot(*args, **kwargs):
        raise AssertionError("markdown must not run dot")
    monkeypatch.setattr(subprocess, "run", no_dot)
    text = federation_report(clusters(), "markdown", federation="bookinfo", generated_at=NOW)
    assert text.startswith("# Federation bookinfo\n") and "```mermaid\nflowchart LR\n" in text


def test_a_cluster_of_which_nothing_was_collected_is_shown(monkeypatch):
    text = federation_report([None] + clusters()[1:], "markdown", names=["cluster1", "cluster2", "cluster3"],
                             generated_at=NOW)
    assert "| cluster1 | - | **NO: cluster cluster1: no state collected (its task failed or was skipped)** |" in text


def test_generated_at_defaults_to_now():
    assert "Report generated 20" in federation_report([], "markdown")


@pytest.mark.parametrize("value, message", [
    ("html", None), ("pdf", "format 'pdf' is not one of html, markdown"),
])
def test_formats(monkeypatch, value, message):
    monkeypatch.setattr(plugin, "dot_to_svg", lambda source, timeout: "<svg></svg>")
    if message is None:
        assert federation_report([], value).startswith("<!DOCTYPE html>")
    else:
        with pytest.raises(AnsibleFilterError, match=message):
            federation_report([], value)


@pytest.mark.parametrize("value", [{"name": "cluster1"}, "cluster1", 3])
def test_the_input_must_be_a_list(value):
    with pytest.raises(AnsibleFilterError, match="expects the list of federation_info cluster dicts"):
        federation_report(value, "markdown")


def test_missing_dot_names_the_package():
    with pytest.raises(AnsibleFilterError, match=r"dot is not installed.*package graphviz.*bindep\.txt"):
        dot_to_svg("digraph {}", dot="/nonexistent/dot")


def test_dot_that_takes_too_long_or_fails(monkeypatch):
    def slow(*args, **kwargs):
        raise subprocess.TimeoutExpired(args[0], kwargs["timeout"])
    monkeypatch.setattr(subprocess, "run", slow)
    with pytest.raises(AnsibleFilterError, match="within 5 s"):
        dot_to_svg("digraph {}", timeout=5)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a[0], 1, "", "syntax error"))
    with pytest.raises(AnsibleFilterError, match="dot -Tsvg exited 1: syntax error"):
        dot_to_svg("digraph {")


@pytest.mark.skipif(not shutil.which("dot"), reason="Graphviz's dot is not installed (tools/setup installs graphviz)")
def test_html_lays_the_diagram_out_with_dot():
    page = federation_report(clusters(), "html", federation="bookinfo", generated_at=NOW)
    svg = page[page.index("<svg"):page.index("</svg>")]
    for title in ("cluster1", "cluster2", "cluster3", "cluster2&#45;&gt;cluster1", "cluster3&#45;&gt;cluster1",
                  "cluster2&#45;&gt;cluster3"):
        assert "<title>%s</title>" % title in svg
    assert ">reviews (50%)</text>" in svg and 'class="edge link down"' in svg
    assert "<!--" not in page and "http:" not in page and "https:" not in page
