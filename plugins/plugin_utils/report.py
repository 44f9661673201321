# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report to look at: what status.yml collected (one ``federation_info`` cluster dict per cluster) as one
self-contained HTML page or a Markdown summary with a Mermaid diagram. Pure: data in, text out.

* ``dot_source(clusters)``: the topology in Graphviz DOT, clusters as boxes, one edge per import source from the
  exporter to the consumer, labelled with the local name and the weight, coloured by the probe of that link.
  The caller lays it out (``dot -Tsvg``, the federation_report filter) and hands the SVG to ``report_html``.
* ``report_html(clusters, generated_at, dot_svg)``: the page, with inline CSS and the SVG inline; no script, no
  external URL, and a Content-Security-Policy that would forbid both.
* ``report_markdown(clusters, generated_at)``: the same tables in Markdown and the diagram as a Mermaid flowchart.

Every string in a cluster dict comes from the inventory or a cluster: it is escaped for the language it lands in
(DOT, HTML, Mermaid, Markdown).

Why one file over 400 lines: the HTML page and the Markdown summary are two renderings of the same rows (clusters,
edges, counts) and of the same link kinds; a third format would be the time to put the rows in a file of their own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections.abc import Mapping
from html import escape as _html_escape

from ansible_collections.meshfed.federation.plugins.module_utils.observe import probe
from ansible_collections.meshfed.federation.plugins.module_utils.pki.certificates import DEFAULT_RENEWAL_DAYS

# Link state (federation_info's probe) -> kind of edge; a state not listed is a link down.
OK, EXPIRING, DOWN, NOT_PROBED, DRAINED = "ok", "expiring", "down", "not-probed", "drained"
KIND_COLOURS = {OK: "#2e7d32", EXPIRING: "#ef6c00", DOWN: "#c62828", NOT_PROBED: "#9e9e9e", DRAINED: "#1565c0"}
KIND_TITLES = {OK: "ok", EXPIRING: "peer certificate expiring", DOWN: "down", NOT_PROBED: "not probed",
               DRAINED: "drained by the exporter"}
KIND_LOOKS = {OK: "green", EXPIRING: "orange", DOWN: "red", NOT_PROBED: "dashed grey", DRAINED: "blue"}
UNREACHABLE_FILL, NODE_FILL, MISSING_FILL = "#fdecea", "#e8f0fe", "#f5f5f5"
FONT = "Helvetica,Arial,sans-serif"


def _mapping(value):
    return value if isinstance(value, Mapping) else {}


def _items(value):
    return [v for v in (value or []) if isinstance(v, Mapping)]


def cluster_list(clusters, names=None):
    """The cluster dicts to report, in order, without what is not one (a host whose task failed gave none); each
    name of ``names`` that none of them has is added as an unreachable cluster whose state was not collected."""
    found = _items(clusters)
    have = {c.get("name") for c in found}
    missing = [{"name": n, "identity": None, "reachable": False, "collected": False,
                "error": "cluster %s: no state collected (its task failed or was skipped)" % n,
                "exports": [], "imports": [], "certificate": None}
               for n in (names or []) if n not in have]
    return found + missing


def _link_for(cluster, imp, source):
    """The probe of one import source, None when not probed (no ``links`` at all, or none for this source)."""
    for link in _items(cluster.get("links")):
        if (link.get("import"), link.get("namespace"), link.get("peer"), link.get("export")) == (
                imp.get("name"), imp.get("namespace"), source.get("cluster"), source.get("export")):
            return link
    return None


def link_kind(link):
    if link is None:
        return NOT_PROBED
    if link.get("state") == probe.DRAINED:
        return DRAINED
    if probe.is_down(link):
        return DOWN
    return EXPIRING if link.get("state") == probe.PEER_CERTIFICATE_EXPIRING else OK


def _edge(cluster, imp, source, link):
    weight = source.get("weight")
    return {"exporter": source.get("cluster"), "consumer": cluster.get("name"), "import": imp.get("name"),
            "namespace": imp.get("namespace"), "port": imp.get("port"), "export": source.get("export"),
            "weight": weight, "link": link, "kind": link_kind(link),
            "label": "%s (%s%%)" % (imp.get("name"), weight) if weight is not None else text(imp.get("name"))}


def edges(clusters):
    """One dict per import source: exporter, consumer, import, export, weight, label, link (or None), kind. A link
    probed for an import the cluster did not report (its API was unreachable: the probe does not need it) is an
    edge too, without weight."""
    found = []
    for cluster in clusters:
        matched = []
        for imp in _items(cluster.get("imports")):
            for source in _items(imp.get("sources")):
                link = _link_for(cluster, imp, source)
                matched.append(link)
                found.append(_edge(cluster, imp, source, link))
        for link in _items(cluster.get("links")):
            if not any(link is m for m in matched):
                found.append(_edge(cluster, {"name": link.get("import"), "namespace": link.get("namespace")},
                                   {"cluster": link.get("peer"), "export": link.get("export")}, link))
    return found


def nodes(clusters):
    """The clusters, then any peer an import names that is not among them (shown as unknown)."""
    names = [c.get("name") for c in clusters]
    unknown = []
    for edge in edges(clusters):
        if edge["exporter"] not in names and edge["exporter"] not in unknown:
            unknown.append(edge["exporter"])
    return list(clusters) + [{"name": n, "identity": None, "reachable": None, "exports": [], "imports": []}
                             for n in unknown]


def edge_lines(edge):
    """The label of an edge in the diagram: the local name and weight, then the state (in words) unless it is ok."""
    if edge["kind"] == OK:
        return [edge["label"]]
    state = text(edge["link"].get("state")).replace("_", " ") if edge["link"] else KIND_TITLES[NOT_PROBED]
    return [edge["label"], state]


def edge_title(edge):
    """The one-line story of an edge: which import, from where, and what its probe found."""
    link = edge["link"]
    port = ":%s" % edge["port"] if edge["port"] is not None else ""
    words = ["%s/%s%s <- %s/%s" % (edge["namespace"], edge["import"], port, edge["exporter"], edge["export"]),
             "weight %s%%" % edge["weight"] if edge["weight"] is not None else None]
    if link is None:
        words.append("not probed")
    else:
        words.append("state %s" % link.get("state"))
        if link.get("handshake_ms") is not None:
            words.append("handshake %s ms" % link["handshake_ms"])
        if link.get("http_status") is not None:
            words.append("HTTP %s" % link["http_status"])
        if link.get("detail"):
            words.append(str(link["detail"]))
    return "; ".join(w for w in words if w)


def probe_times(clusters):
    """The first and last ``probed_at`` of every link, or None when no link was probed."""
    times = sorted(str(l["probed_at"]) for c in clusters for l in _items(c.get("links")) if l.get("probed_at"))
    return (times[0], times[-1]) if times else None


def probe_time_text(clusters):
    times = probe_times(clusters)
    if times is None:
        return "links not probed"
    return "links probed at %s" % times[0] if times[0] == times[1] else "links probed from %s to %s" % times


def counts(clusters):
    """Clusters, unreachable ones, and edges per kind."""
    kinds = [e["kind"] for e in edges(clusters)]
    result = {"clusters": len(clusters), "unreachable": sum(1 for c in clusters if not c.get("reachable")),
              "links": len(kinds)}
    result.update((k, kinds.count(k)) for k in KIND_COLOURS)
    return result


def summary_text(clusters):
    n = counts(clusters)
    parts = ["%d clusters" % n["clusters"] + (" (%d unreachable)" % n["unreachable"] if n["unreachable"] else ""),
             "%d links" % n["links"] + "".join(
                 "%s %d %s" % (":" if i == 0 else ",", n[k], KIND_TITLES[k])
                 for i, k in enumerate(k for k in KIND_COLOURS if n[k]))]
    return ", ".join(parts)


def days_class(days):
    """How urgent a certificate is: expired, within the pki role's default renewal window, or fine."""
    if days is None:
        return "missing"
    if days < 0:
        return "expired"
    return "renew" if days < DEFAULT_RENEWAL_DAYS else "fine"


def gateway_text(gateway, reachable):
    gateway = _mapping(gateway)
    if not reachable:
        return "-"
    if not gateway.get("deployed"):
        return "not deployed"
    return "%s %s/%s" % ("ready" if gateway.get("ready") else "NOT READY", gateway.get("available_replicas", 0),
                         gateway.get("replicas", 0))


def address_text(gateway):
    address = _mapping(_mapping(gateway).get("address"))
    return "%s:%s" % (address["address"], address.get("port")) if address.get("address") else "-"


def text(value):
    """A table cell's text: '-' for nothing, yes/no for booleans, lists joined."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(text(v) for v in value) or "-"
    return " ".join(str(value).split())


def reachable_text(cluster):
    return "yes" if cluster.get("reachable") else "NO: %s" % text(cluster.get("error"))


def _probe_text(link):
    """How far the probe got: the handshake's time and the HTTP status."""
    parts = ["%s ms" % link["handshake_ms"] if link.get("handshake_ms") is not None else None,
             "HTTP %s" % link["http_status"] if link.get("http_status") is not None else None]
    return ", ".join(p for p in parts if p) or None


def _peer_text(link):
    """Who answered, and the days its certificate has left."""
    days = link.get("peer_certificate_days_left")
    parts = [link.get("peer_identity"), "%s days left" % days if days is not None else None]
    return ", ".join(str(p) for p in parts if p) or None


def quota_text(quota):
    """A quota as federation_info reports it (``{requests_per_second: N}`` or ``{connections: N}``), in words."""
    if not isinstance(quota, Mapping):
        return None
    if quota.get("requests_per_second") is not None:
        return "%s requests/s" % quota["requests_per_second"]
    return "%s connections" % quota.get("connections")


def consumers_text(export):
    """An export's consumers, each with its quota and whether it is drained (the export's ``limits``)."""
    limits = dict((limit.get("consumer"), limit) for limit in _items(export.get("limits")))
    texts = []
    for consumer in export.get("consumers") or []:
        limit = limits.get(consumer) or {}
        words = [w for w in (quota_text(limit.get("quota")), "drained" if limit.get("state") == DRAINED else None) if w]
        texts.append("%s (%s)" % (consumer, ", ".join(words)) if words else consumer)
    return texts


def _names(value):
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def mode_text(imp):
    """An import's mode; a failover import's order (``local > cluster2``)."""
    mode = imp.get("mode") or "split"
    order = [text(name) for name in _names(imp.get("order"))]
    return "%s: %s" % (mode, " > ".join(order)) if mode == "failover" and order else mode


def serving_text(imp):
    """(text, css class) of what serves an import (observe/serving.py): its destinations serving now, and what is
    failing; failing over shows at a glance (the class of a down link)."""
    if "serving" not in imp:
        return None, None
    now = ", ".join(text(name) for name in _names(imp.get("serving"))) or "nothing"
    failing = [text(name) for name in _names(imp.get("failing"))]
    if imp.get("failing_over"):
        return "%s (failing over: %s down)" % (now, ", ".join(failing)), DOWN
    if failing:
        return "%s (%s down)" % (now, ", ".join(failing)), DOWN
    return now, None


def table_rows(clusters):
    """Every table of the report as (id, title, headers, rows); a row is a list of (text, css class or None)."""
    cluster_rows, export_rows, import_rows, link_rows, cert_rows = [], [], [], [], []
    for c in clusters:
        name, reachable, cert = c.get("name"), c.get("reachable"), c.get("certificate")
        days = cert.get("days_left") if isinstance(cert, Mapping) else None
        down = c.get("links_down")
        cluster_rows.append([(name, None), (c.get("identity"), None),
                             (reachable_text(c), None if reachable else "detail " + DOWN),
                             (gateway_text(c.get("ingress_gateway"), reachable), None),
                             (gateway_text(c.get("egress_gateway"), reachable), None),
                             (address_text(c.get("ingress_gateway")), None),
                             (days, "days " + days_class(days)),
                             (down if "links" in c else "not probed", DOWN if down else None)])
        if isinstance(cert, Mapping):
            cert_rows.append([(name, None), (cert.get("subject"), None), (cert.get("issuer"), None),
                              (cert.get("serial"), None), (cert.get("not_after"), "time"),
                              (days, "days " + days_class(days))])
        elif reachable:
            cert_rows.append([(name, None), ("no gateway certificate in the cluster", "days missing")] +
                             [(None, None)] * 3 + [(None, "days missing")])
        for e in _items(c.get("exports")):
            service = "%s#%s" % (e.get("service"), e["subset"]) if e.get("subset") else e.get("service")
            export_rows.append([(name, None), (e.get("name"), None), (e.get("protocol"), None), (service, None),
                                (consumers_text(e), None), (e.get("applied"), None if e.get("applied") else DOWN)])
        for i in _items(c.get("imports")):
            sources = ["%s/%s (%s%%)" % (s.get("cluster"), s.get("export"), s.get("weight"))
                       for s in _items(i.get("sources"))]
            local = "%s%%" % i["local_weight"] if i.get("local_weight") is not None else None
            serving, serving_class = serving_text(i)
            import_rows.append([(name, None), ("%s/%s:%s" % (i.get("namespace"), i.get("name"), i.get("port")), None),
                                (i.get("protocol"), None), (sources, None), (local, None), (mode_text(i), None),
                                (serving, serving_class), (i.get("applied"), None if i.get("applied") else DOWN)])
    for edge in edges(clusters):
        link = edge["link"] or {}
        address = ", ".join(x for x in ("%s:%s" % (link["address"], link.get("port")) if link.get("address") else None,
                                        "SNI %s" % link["sni"] if link.get("sni") else None) if x) or None
        link_rows.append([(edge["consumer"], None), ("%s/%s" % (edge["namespace"], edge["import"]), None),
                          ("%s/%s" % (edge["exporter"], edge["export"]), None),
                          (link.get("state") or KIND_TITLES[NOT_PROBED], "state " + edge["kind"]),
                          (quota_text(link.get("quota")), None), (address, None), (_probe_text(link), None),
                          (_peer_text(link), None), (link.get("detail"), "detail"),
                          (link.get("probed_at"), "time")])
    return [
        ("clusters", "Clusters", ["cluster", "identity", "reachable", "ingress gateway", "egress gateway",
                                  "gateway address", "certificate days left", "links down"], cluster_rows),
        ("exports", "Exports", ["exporter", "export", "protocol", "service", "consumers", "applied"], export_rows),
        ("imports", "Imports", ["consumer", "local name", "protocol", "from (weight)", "local copy", "mode",
                                "serving", "applied"], import_rows),
        ("links", "Links", ["consumer", "import", "peer/export", "state", "quota", "address, SNI", "handshake, HTTP",
                            "peer certificate", "detail", "probed at"],
         link_rows),
        ("certificates", "Certificates", ["cluster", "subject", "issuer", "serial", "not after", "days left"],
         cert_rows),
    ]


# --- DOT -------------------------------------------------------------------------------------------------------


def dot_quote(value):
    """A DOT double-quoted string showing ``value`` as it is: backslashes and quotes escaped, ``&`` written as an
    entity (Graphviz reads entities in labels), line breaks as spaces."""
    value = " ".join(str(value).split())
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;")


def dot_lines(lines):
    """A DOT string of several lines: each escaped, joined with DOT's line break."""
    return '"%s"' % "\\n".join(dot_quote(line)[1:-1] for line in lines)


def dot_html_label(lines, status_colour):
    """A Graphviz HTML-like label: the first line bold, the second smaller, the third smaller in ``status_colour``;
    each line HTML-escaped (Graphviz reads entities there)."""
    fonts = ['<B>%s</B>', '<FONT POINT-SIZE="11">%s</FONT>', '<FONT POINT-SIZE="10" COLOR="%s">%%s</FONT>'
             % status_colour]
    return "<%s>" % "<BR/>".join(font % _html_escape(line, True) for font, line in zip(fonts, lines))


def _dot_attrs(label, **attrs):
    """``[label=<label as given>, name="value", ...]``."""
    return "[%s]" % ", ".join(["label=%s" % label] + ["%s=%s" % (k, dot_quote(v)) for k, v in sorted(attrs.items())])


def _node_lines(cluster):
    lines = [cluster.get("name"), cluster.get("identity") or "identity unknown"]
    if cluster.get("reachable") is None:
        lines.append("not in the report")
    elif cluster.get("collected") is False:
        lines.append("state not collected")
    elif not cluster.get("reachable"):
        lines.append("unreachable")
    elif isinstance(cluster.get("certificate"), Mapping):
        lines.append("certificate: %s days left" % cluster["certificate"].get("days_left"))
    return [text(line) for line in lines]


def _node_state(cluster):
    if cluster.get("reachable") is None:
        return "unknown"
    return "reachable" if cluster.get("reachable") else "unreachable"


NODE_COLOURS = {"reachable": ("#1a73e8", NODE_FILL, "rounded,filled"),
                "unreachable": (KIND_COLOURS[DOWN], UNREACHABLE_FILL, "rounded,filled"),
                "unknown": (KIND_COLOURS[NOT_PROBED], MISSING_FILL, "rounded,dashed")}


def dot_source(clusters):
    """The federation's topology in Graphviz DOT (``dot -Tsvg`` lays it out). Nodes are named after the clusters,
    so the SVG's titles are the cluster names and ``exporter->consumer``."""
    clusters = list(clusters)
    out = ["digraph federation {",
           '  graph [rankdir=LR, bgcolor="transparent", nodesep=0.5, ranksep=1.6, pad=0.2, fontname="%s"];' % FONT,
           '  node [shape=box, penwidth=1.5, margin="0.25,0.12", fontsize=12, fontname="%s"];' % FONT,
           '  edge [fontsize=11, penwidth=2, arrowsize=0.8, fontname="%s"];' % FONT]
    for index, cluster in enumerate(nodes(clusters)):
        state = _node_state(cluster)
        lines = _node_lines(cluster)
        colour, fill, style = NODE_COLOURS[state]
        tooltip = " - ".join(lines + ([text(cluster["error"])] if cluster.get("error") else []))
        label = dot_html_label(lines, "#5f6368" if state == "reachable" else colour)
        out.append("  %s %s;" % (dot_quote(cluster.get("name")), _dot_attrs(
            label, id="cluster-%d" % index, tooltip=tooltip, color=colour, fillcolor=fill, style=style,
            **{"class": "cluster " + state})))
    for index, edge in enumerate(edges(clusters)):
        colour = KIND_COLOURS[edge["kind"]]
        title = edge_title(edge)
        out.append("  %s -> %s %s;" % (dot_quote(edge["exporter"]), dot_quote(edge["consumer"]), _dot_attrs(
            dot_lines(edge_lines(edge)), id="link-%d" % index, color=colour, fontcolor=colour, tooltip=title,
            labeltooltip=title, style="dashed" if edge["kind"] == NOT_PROBED else "solid",
            **{"class": "link " + edge["kind"]})))
    out.append("}")
    return "\n".join(out) + "\n"


# --- HTML ------------------------------------------------------------------------------------------------------


def h(value):
    """HTML-escaped text of a value (quotes too: safe in attributes)."""
    return _html_escape(text(value), True)


_SVG_PROLOGUE = re.compile(r"^.*?(?=<svg[\s>])", re.S)
_SVG_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SVG_NAMESPACES = re.compile(r'\s+xmlns(:xlink)?="[^"]*"')


def inline_svg(svg):
    """Graphviz's SVG document made fit for inlining in HTML: no XML declaration, DOCTYPE or comments, and no
    namespace declarations (the HTML parser puts <svg> and xlink:title in their namespaces itself), so the page
    names no URL at all."""
    svg = _SVG_PROLOGUE.sub("", svg, count=1)
    svg = _SVG_COMMENT.sub("", svg)
    return _SVG_NAMESPACES.sub("", svg).strip()


CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 Helvetica, Arial, sans-serif; color: #202124; margin: 24px 32px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #dadce0; padding-bottom: 4px; }
.meta, .summary { margin: 2px 0; color: #5f6368; }
.diagram { margin: 8px 0; padding: 12px; border: 1px solid #dadce0; border-radius: 6px; overflow-x: auto; }
.diagram svg { max-width: 100%%; height: auto; }
.legend { list-style: none; padding: 0; margin: 6px 0 0; display: flex; gap: 18px; flex-wrap: wrap; }
.legend li { color: #5f6368; font-weight: normal; }
.legend li::before { content: ""; display: inline-block; width: 22px; height: 0; margin-right: 6px;
  vertical-align: middle; border-top: 3px solid var(--c); }
.legend li.not-probed::before { border-top-style: dashed; }
.wide { overflow-x: auto; }
table { border-collapse: collapse; margin: 4px 0 8px; font-size: 13px; }
th, td { border: 1px solid #dadce0; padding: 4px 8px; text-align: left; vertical-align: top; }
td.time, td.days, td.state { white-space: nowrap; } td.detail { min-width: 12em; max-width: 40em; }
th { background: #f1f3f4; font-weight: 600; }
tbody tr:nth-child(even) { background: #fafafa; }
td.empty { color: #5f6368; font-style: italic; }
.ok { color: %(ok)s; } .expiring, .renew { color: %(expiring)s; font-weight: 600; }
.down, .expired { color: %(down)s; font-weight: 600; } .not-probed, .missing { color: #5f6368; }
.drained { color: %(drained)s; }
td.days { text-align: right; }
""" % {"ok": KIND_COLOURS[OK], "expiring": KIND_COLOURS[EXPIRING], "down": KIND_COLOURS[DOWN],
       "drained": KIND_COLOURS[DRAINED]}

# No script, nothing from elsewhere: only the inline style may apply (and the data: favicon that keeps a
# browser from asking for /favicon.ico).
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _html_table(table_id, title, headers, rows):
    out = ['<section id="%s-section">' % table_id, "<h2>%s</h2>" % h(title)]
    if not rows:
        out.append('<p class="empty">none</p>')
    else:
        out.append('<div class="wide"><table id="%s"><thead><tr>%s</tr></thead><tbody>'
                   % (table_id, "".join("<th>%s</th>" % h(x) for x in headers)))
        for row in rows:
            out.append("<tr>%s</tr>" % "".join(
                '<td class="%s">%s</td>' % (h(cls), h(value)) if cls else "<td>%s</td>" % h(value)
                for value, cls in row))
        out.append("</tbody></table></div>")
    out.append("</section>")
    return "\n".join(out)


def report_html(clusters, generated_at, dot_svg, federation=None):
    """The report as one HTML page; ``dot_svg`` is ``dot_source(clusters)`` laid out by ``dot -Tsvg`` (None: no
    diagram)."""
    clusters = list(clusters)
    title = "Federation %s" % text(federation) if federation else "Federation"
    legend = "".join('<li class="%s" style="--c: %s">%s</li>' % (k, KIND_COLOURS[k], h(KIND_TITLES[k]))
                     for k in KIND_COLOURS)
    diagram = inline_svg(dot_svg) if dot_svg else '<p class="empty">diagram not rendered</p>'
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta http-equiv="Content-Security-Policy" content="%s">' % CSP,
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<link rel="icon" href="data:,">',
           "<title>%s - meshfed report</title>" % h(title), "<style>%s</style>" % CSS, "</head>", "<body>",
           "<header><h1>%s</h1>" % h(title),
           '<p class="meta">Report generated <time id="generated-at">%s</time>; <span id="probed-at">%s</span></p>'
           % (h(generated_at), h(probe_time_text(clusters))),
           '<p class="summary" id="summary">%s</p></header>' % h(summary_text(clusters)),
           '<section id="topology-section"><h2>Topology</h2>',
           '<figure class="diagram" id="topology">%s</figure>' % diagram,
           '<ul class="legend">%s<li>arrow: exporter to consumer, labelled with the local name and its weight</li>'
           "</ul></section>" % legend]
    out.extend(_html_table(*table) for table in table_rows(clusters))
    out.extend(["</body>", "</html>"])
    return "\n".join(out) + "\n"


# --- Markdown and Mermaid ----------------------------------------------------------------------------------------

_MERMAID_SAFE = re.compile(r"[A-Za-z0-9 ._:/()%,-]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]|~])")


def mermaid_text(value):
    """Text for a quoted Mermaid label: every character that could mean something (quotes, brackets, pipes, <, #,
    backticks, ...) written as Mermaid's entity code ``#<decimal>;``."""
    return "".join(ch if _MERMAID_SAFE.match(ch) else "#%d;" % ord(ch) for ch in text(value))


def markdown_text(value):
    """Text for Markdown (a table cell too): Markdown punctuation backslash-escaped, HTML's <, > and & as entities."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", text(value))
    return escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mermaid_source(clusters):
    """The topology as a Mermaid flowchart: the nodes and edges of ``dot_source``, with the same colours."""
    clusters = list(clusters)
    ids = {}
    out = ["flowchart LR"]
    for index, cluster in enumerate(nodes(clusters)):
        ids[cluster.get("name")] = "n%d" % index
        out.append('  n%d["%s"]:::%s' % (index, "<br/>".join(mermaid_text(x) for x in _node_lines(cluster)),
                                         _node_state(cluster)))
    styles = []
    for index, edge in enumerate(edges(clusters)):
        label = "<br/>".join(mermaid_text(line) for line in edge_lines(edge))
        arrow = "-.->" if edge["kind"] == NOT_PROBED else "-->"
        out.append('  %s %s|"%s"| %s' % (ids[edge["exporter"]], arrow, label, ids[edge["consumer"]]))
        colour = KIND_COLOURS[edge["kind"]]
        styles.append("  linkStyle %d stroke:%s,stroke-width:2px,color:%s" % (index, colour, colour))
    out.extend(styles)
    out.extend(["  classDef reachable fill:%s,stroke:#1a73e8" % NODE_FILL,
                "  classDef unreachable fill:%s,stroke:%s" % (UNREACHABLE_FILL, KIND_COLOURS[DOWN]),
                "  classDef unknown fill:%s,stroke:%s,stroke-dasharray:4" % (MISSING_FILL, KIND_COLOURS[NOT_PROBED])])
    return "\n".join(out)


def _markdown_table(title, headers, rows):
    out = ["## %s" % markdown_text(title), ""]
    if not rows:
        return out + ["none", ""]
    out.append("| %s |" % " | ".join(markdown_text(x) for x in headers))
    out.append("|" + "---|" * len(headers))
    for row in rows:
        cells = []
        for value, cls in row:
            cell = markdown_text(value)
            cells.append("**%s**" % cell if cls and cls.split()[-1] in (DOWN, "expired", "renew", EXPIRING) else cell)
        out.append("| %s |" % " | ".join(cells))
    return out + [""]


def report_markdown(clusters, generated_at, federation=None):
    """The report in Markdown for pull requests and chat: summary, Mermaid diagram, tables."""
    clusters = list(clusters)
    title = "Federation %s" % text(federation) if federation else "Federation"
    legend = ", ".join("%s %s" % (KIND_LOOKS[k], KIND_TITLES[k]) for k in KIND_COLOURS)
    out = ["# %s" % markdown_text(title), "",
           "Report generated %s; %s." % (markdown_text(generated_at), markdown_text(probe_time_text(clusters))), "",
           "%s." % markdown_text(summary_text(clusters)), "",
           "```mermaid", mermaid_source(clusters), "```", "",
           "Arrows go from the exporter to the consumer, labelled with the local name and its weight: %s."
           % legend, ""]
    for _table_id, table_title, headers, rows in table_rows(clusters):
        out.extend(_markdown_table(table_title, headers, rows))
    return "\n".join(out).rstrip("\n") + "\n"
