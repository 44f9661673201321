# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation_lock module's name for the one action plugin, meshfed.py (why a name per module: see there)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.action.meshfed import ActionModule  # noqa: F401  pylint: disable=unused-import
