# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""status.yml's HTML report in a real browser: the federation_report filter (real Graphviz ``dot``) renders the
three-cluster scenario of report_scenario.py, headless Chromium (Debian's, driven by Debian's chromedriver through
selenium) opens the file, and the DOM is read: no console error, no resource fetched, the diagram's nodes and edges
exactly the expected ones with their labels and colours, the days left in the tables. A screenshot of the page is
saved as tests/output/artifacts/federation-report.png. Then status.yml itself writes the report (a lab inventory
whose clusters cannot be reached, links not probed), as HTML the browser reads and as Markdown. Needs no lab;
tools/setup installs chromium and chromium-driver."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import os
import shutil

import pytest

from ansible_collections.meshfed.federation.plugins.filter.federation_report import federation_report
from ansible_collections.meshfed.federation.plugins.plugin_utils.report import KIND_COLOURS
from ansible_collections.meshfed.federation.tests.integration.playbook_runner import run_playbook, write_inventory
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.report_scenario import (
    DAYS_LEFT, EDGES, clusters)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARTIFACTS = os.path.join(REPO, "tests", "output", "artifacts")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    HAS_SELENIUM = True
except ImportError:
    HAS_SELENIUM = False

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER and HAS_SELENIUM),
    reason="needs Debian's chromium and chromium-driver and the selenium package (tools/setup installs them); "
           "found chromium=%s chromedriver=%s selenium=%s" % (CHROMIUM, CHROMEDRIVER, HAS_SELENIUM))]

# Chromium as root on a machine without internet: no sandbox (root), no GPU, and none of the background requests
# (component updates, sync, field trials) it would otherwise send to Google.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
                  "--window-size=1400,1000"]

GENERATED_AT = "2025-06-01T10:16:00+00:00"

# What the page shows, read by the browser: nodes, edges (title, first label line, class, stroke), tables.
READ_PAGE = """
const svg = document.querySelector('#topology svg');
const text = (el) => el ? el.textContent.trim() : null;
const box = svg ? svg.getBoundingClientRect() : null;
return {
  svg: box ? {width: box.width, height: box.height} : null,
  nodes: [...document.querySelectorAll('#topology svg g.node')].map(g => ({
    title: text(g.querySelector('title')), lines: [...g.querySelectorAll('text')].map(text),
    cls: g.getAttribute('class')})),
  edges: [...document.querySelectorAll('#topology svg g.edge')].map(g => ({
    title: text(g.querySelector('title')), lines: [...g.querySelectorAll('text')].map(text),
    cls: g.getAttribute('class'), stroke: g.querySelector('path').getAttribute('stroke')})),
  tables: Object.fromEntries([...document.querySelectorAll('table')].map(t => [t.id,
    [...t.querySelectorAll('tbody tr')].map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent))])),
  resources: performance.getEntriesByType('resource').map(r => r.name),
  scripts: document.scripts.length,
  height: document.documentElement.scrollHeight,
};
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = Options()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument("--user-data-dir=%s" % tmp_path_factory.mktemp("chromium-profile"))
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # both paths given: selenium's own driver manager (which would download) is never asked
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def open_report(browser, path, html):
    with open(path, "w") as f:
        f.write(html)
    browser.get("file://%s" % path)
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    return browser.execute_script(READ_PAGE), severe


def test_the_html_report_renders_the_federation_in_chromium(browser, tmp_path):
    html = federation_report(clusters(), "html", federation="bookinfo", generated_at=GENERATED_AT)
    page, severe = open_report(browser, str(tmp_path / "federation.html"), html)

    assert severe == [], "console errors: %s" % severe
    assert page["resources"] == [] and page["scripts"] == 0  # self-contained: nothing fetched, no script
    assert page["svg"]["width"] > 400 and page["svg"]["height"] > 100

    assert sorted(n["title"] for n in page["nodes"]) == ["cluster1", "cluster2", "cluster3"]
    for node in page["nodes"]:
        assert node["lines"][:2] == [node["title"], "c%s.example.com" % node["title"][-1]]
        assert node["lines"][2] == "certificate: %d days left" % DAYS_LEFT[node["title"]]
    seen = sorted((e["title"], e["lines"][0], e["cls"], e["stroke"]) for e in page["edges"])
    assert seen == sorted(("%s->%s" % (exporter, consumer), label, "edge link %s" % kind, KIND_COLOURS[kind])
                          for exporter, consumer, label, kind in EDGES)
    states = {e["title"]: e["lines"][1:] for e in page["edges"]}
    assert states == {"cluster2->cluster1": [], "cluster3->cluster1": ["refused"],
                      "cluster2->cluster3": ["not probed"]}

    certificates = {row[0]: int(row[-1]) for row in page["tables"]["certificates"]}
    assert certificates == DAYS_LEFT
    assert {row[0]: int(row[6]) for row in page["tables"]["clusters"]} == DAYS_LEFT
    assert [row[3] for row in page["tables"]["links"]] == ["ok", "refused", "not probed"]

    # the whole page in the artifacts, for a person to look at
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 1400, "height": min(page["height"], 6000), "deviceScaleFactor": 1, "mobile": False})
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, "federation-report.png"), "wb") as f:
        f.write(base64.b64decode(shot["data"]))


def test_inventory_strings_stay_text_in_the_browser(browser, tmp_path):
    hostile = clusters()
    evil = '<img src=x onerror="document.title=1">"\'&amp;</svg><script>document.title=2</script>'
    hostile[0]["identity"] = evil
    hostile[0]["imports"][0]["name"] = evil
    hostile[0]["links"][0]["import"] = evil
    hostile[0]["links"][0]["detail"] = evil
    html = federation_report(hostile, "html", federation=evil, generated_at=GENERATED_AT)
    page, severe = open_report(browser, str(tmp_path / "hostile.html"), html)

    assert severe == [], "console errors: %s" % severe
    assert page["resources"] == [] and page["scripts"] == 0
    assert browser.execute_script("return document.querySelectorAll('img, script, body svg svg').length") == 0
    assert browser.title == "Federation %s - meshfed report" % evil
    cluster1 = [n for n in page["nodes"] if n["title"] == "cluster1"][0]
    assert cluster1["lines"][1] == evil
    assert "%s (50%%)" % evil in [e["lines"][0] for e in page["edges"]]
    assert len(page["edges"]) == 3


def test_status_playbook_writes_the_report_it_is_asked_for(browser, tmp_path):
    """No cluster answers (no kubeconfig) and the links are not probed: the report still shows the lab's two
    clusters, unreachable, and the three imports' edges, grey."""
    inventory = write_inventory(str(tmp_path / "inventory"), "/nonexistent/kubeconfig", "report-test")
    page_path = str(tmp_path / "out" / "federation.html")
    os.makedirs(os.path.dirname(page_path))
    run = run_playbook("status.yml", inventory, "-e", "meshfed_probe=false", "-e", "meshfed_report=" + page_path)
    assert run.rc == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert oct(os.stat(page_path).st_mode & 0o777) == "0o644"
    with open(page_path) as f:
        html = f.read()
    page, severe = open_report(browser, str(tmp_path / "shown.html"), html)
    assert severe == [] and page["resources"] == []
    assert sorted((n["title"], n["lines"][2], n["cls"]) for n in page["nodes"]) == [
        ("cluster1", "unreachable", "node cluster unreachable"), ("cluster2", "unreachable", "node cluster unreachable")]
    # the imports come from the inventory (the cluster was not read): the unreachable consumer reports none, so
    # only links would make edges; without the probe there are none
    assert page["edges"] == []
    assert "Federation report-test" in html and "links not probed" in html

    # Markdown, at a path relative to the directory ansible-playbook runs in
    run = run_playbook("status.yml", inventory, "-e", "meshfed_probe=false", "-e", "meshfed_report=federation.md",
                       env={"PWD": str(tmp_path / "out")})
    assert run.rc == 0, run.stdout[-3000:] + run.stderr[-3000:]
    with open(str(tmp_path / "out" / "federation.md")) as f:
        text = f.read()
    assert text.startswith("# Federation report-test\n") and '  n0["cluster1<br/>c1.example.com<br/>unreachable"]' in text

    run = run_playbook("status.yml", inventory, "-e", "meshfed_probe=false", "-e", "meshfed_report=federation.txt",
                       plain=True)
    assert run.rc != 0 and "name the report *.html" in run.stdout, run.stdout[-3000:]
    assert not os.path.exists(str(tmp_path / "out" / "federation.txt"))
