# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The direction of imports between the layers of plugins/ (docs/design.md, "Layers"), read from the source."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import os

import pytest

PLUGINS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                       "plugins")
OURS = "ansible_collections.meshfed.federation.plugins."

# a layer -> the layers it may import besides itself; a layer is a package of module_utils, a top-level file of
# module_utils, or a plugin folder
MAY_IMPORT = {
    "module_utils.model": (),
    "module_utils.kube": ("module_utils.model",),
    "module_utils.render": ("module_utils.model", "module_utils.kube"),
    "module_utils.pki": ("module_utils.model",),
    "module_utils.peering": ("module_utils.model", "module_utils.pki"),
    "module_utils.apply": ("module_utils.kube",),
    "module_utils.observe": ("module_utils.model", "module_utils.kube", "module_utils.pki", "module_utils.apply"),
    "module_utils.args_common": ("module_utils.pki",),
    "module_utils.module_backends": ("module_utils.model", "module_utils.kube", "module_utils.render",
                                     "module_utils.pki", "module_utils.peering", "module_utils.apply",
                                     "module_utils.observe", "module_utils.args_common"),
    "modules": ("module_utils.args_common", "module_utils.module_backends"),
    "plugin_utils": ("module_utils.model", "module_utils.kube", "module_utils.pki", "module_utils.apply",
                     "module_utils.observe", "module_utils.args_common"),
    "action": ("module_utils.args_common", "module_utils.module_backends", "module_utils.apply",
               "module_utils.pki", "plugin_utils"),
    "filter": ("module_utils.model", "module_utils.pki", "module_utils.apply", "plugin_utils"),
    "doc_fragments": (),
}


def layer_of(dotted):
    """``module_utils.render.kube`` -> ``module_utils.render``; ``filter.x`` -> ``filter``."""
    parts = dotted.split(".")
    return ".".join(parts[:2]) if parts[0] == "module_utils" else parts[0]


def plugin_files():
    for folder, dummy, files in os.walk(PLUGINS):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                yield os.path.relpath(path, PLUGINS)[:-3].replace(os.sep, "."), path


def imports_of(path):
    """The modules of this collection that one file imports (``module_utils.model.names``, say)."""
    with open(path) as source:
        tree = ast.parse(source.read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(OURS):
            module = node.module[len(OURS):]
            # ``from ...module_utils import pki`` names a module of the package
            found.update(module + "." + alias.name if module in ("module_utils", "plugin_utils") else module
                         for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name[len(OURS):] for alias in node.names if alias.name.startswith(OURS))
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.add("relative import")
    return found


FILES = sorted(plugin_files())


def test_every_file_belongs_to_a_layer():
    assert sorted({layer_of(name) for name, dummy in FILES} - set(MAY_IMPORT)) == []


@pytest.mark.parametrize("name,path", FILES, ids=[name for name, dummy in FILES])
def test_imports_point_one_way(name, path):
    layer = layer_of(name)
    allowed = set(MAY_IMPORT[layer]) | {layer}
    assert sorted(i for i in imports_of(path) if layer_of(i) not in allowed) == []


def test_the_layers_form_no_cycle():
    def reaches(start, goal, seen=()):
        return any(step == goal or (step not in seen and reaches(step, goal, seen + (step,)))
                   for step in MAY_IMPORT[start])
    assert [layer for layer in MAY_IMPORT if reaches(layer, layer)] == []


MOST_LINES = 400
WHY = "Why one file over 400 lines:"


@pytest.mark.parametrize("name,path", FILES, ids=[name for name, dummy in FILES])
def test_a_long_file_says_why_it_is_one(name, path):
    with open(path) as source:
        text = source.read()
    assert text.count("\n") <= MOST_LINES or WHY in (ast.get_docstring(ast.parse(text)) or "")
