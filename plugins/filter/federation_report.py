# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: federation_report
short_description: The federation's state as an HTML page or a Markdown summary, with its topology drawn
version_added: 0.1.0
description:
  - Takes what the M(meshfed.federation.federation_info) module reported for each cluster (its C(cluster) return
    value) and returns a report to look at, as C(playbooks/status.yml -e meshfed_report=federation.html) writes it.
  - The topology shows the clusters as boxes and, for each source of each import, an arrow from the exporter to the
    consumer labelled with the local name it is consumed under and its weight, coloured by the probe of that link
    (C(links)) - green ok, orange when the peer's certificate is expiring, red when down, grey and dashed when not
    probed. Then tables of the clusters, exports, imports, links and certificates (days left), and the time of the
    probe.
  - C(html) is one self-contained page - inline CSS, the diagram as inline SVG laid out by Graphviz's C(dot),
    no script and no external URL. C(markdown) is for pull requests and chat - the diagram as a Mermaid
    flowchart, and the same tables.
  - Every string from the inventory or a cluster is escaped for the language it lands in.
positional: format
requirements:
  - Graphviz's C(dot) on the controller for C(html) (the Debian and Fedora package C(graphviz); see the
    collection's C(bindep.txt)).
options:
  _input:
    description:
      - The C(cluster) dict that M(meshfed.federation.federation_info) returned, one per cluster. Anything that is
        not a dict (the result of a host whose task failed, say) is left out.
    type: list
    elements: dict
    required: true
  format:
    description: C(html) for the page, C(markdown) for the summary with a Mermaid diagram.
    type: str
    choices: [html, markdown]
    default: html
  federation:
    description: The federation's name, for the title.
    type: str
  names:
    description:
      - Names of every cluster of the federation, usually C(groups['meshfed_clusters']); one of which no state was
        collected is shown as unreachable.
    type: list
    elements: str
  generated_at:
    description: When the report was made, as shown in it; defaults to now (UTC, ISO 8601).
    type: str
  timeout:
    description: Seconds C(dot) may take to lay the diagram out.
    type: int
    default: 60
"""

EXAMPLES = r"""
- name: Write the federation's report as one HTML page
  ansible.builtin.copy:
    dest: federation.html
    content: "{{ clusters | meshfed.federation.federation_report('html', federation='bookinfo') }}"
    mode: "0644"
  vars:
    # the hosts whose federation_info task failed or was skipped have no cluster
    clusters: "{{ groups['meshfed_clusters'] | map('extract', hostvars) | selectattr('meshfed_status', 'defined')
                  | map(attribute='meshfed_status') | selectattr('cluster', 'defined') | map(attribute='cluster') | list }}"

- name: Post a Markdown summary with a Mermaid diagram
  ansible.builtin.debug:
    msg: "{{ [meshfed_status.cluster] | meshfed.federation.federation_report('markdown') }}"
"""

RETURN = r"""
_value:
  description:
    - The report - a whole HTML document (C(<!DOCTYPE html>) ...) or Markdown text with a C(mermaid) code block.
  type: str
"""

import datetime
import subprocess
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError

from ansible_collections.meshfed.federation.plugins.plugin_utils.report import (
    cluster_list, dot_source, report_html, report_markdown)

FORMATS = ("html", "markdown")


def dot_to_svg(source, timeout=60, dot="dot"):
    """Lay ``source`` out with Graphviz's dot; the SVG document."""
    try:
        done = subprocess.run([dot, "-Tsvg"], input=source, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except FileNotFoundError:
        raise AnsibleFilterError(
            "federation_report: Graphviz's dot is not installed on the controller; it lays out the report's "
            "diagram. Install the package graphviz (Debian/Ubuntu: apt-get install graphviz; Fedora/RHEL: "
            "dnf install graphviz; see bindep.txt), or write the report as Markdown (.md)") from None
    except subprocess.TimeoutExpired:
        raise AnsibleFilterError("federation_report: dot did not lay the diagram out within %d s" % timeout) from None
    if done.returncode != 0:
        raise AnsibleFilterError("federation_report: dot -Tsvg exited %d: %s" % (done.returncode, done.stderr.strip()))
    return done.stdout


def federation_report(clusters, format="html", federation=None, names=None, generated_at=None, timeout=60):
    # pylint: disable=redefined-builtin
    if format not in FORMATS:
        raise AnsibleFilterError("federation_report: format %r is not one of %s" % (format, ", ".join(FORMATS)))
    if isinstance(clusters, (str, Mapping)) or not isinstance(clusters, Sequence):
        raise AnsibleFilterError("federation_report: expects the list of federation_info cluster dicts, got %s"
                                 % type(clusters).__name__)
    clusters = cluster_list(clusters, names)
    if generated_at is None:
        generated_at = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    if format == "markdown":
        return report_markdown(clusters, generated_at, federation=federation)
    return report_html(clusters, generated_at, dot_to_svg(dot_source(clusters), timeout=int(timeout)),
                       federation=federation)


class FilterModule(object):
    def filters(self):
        return {"federation_report": federation_report}
