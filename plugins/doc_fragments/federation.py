# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  federation:
    description:
      - The federation, either the validated one M(meshfed.federation.federation_model) returned as
        RV(meshfed.federation.federation_model#module:federation) (validated once, taken as it is), or its description
        C({clusters, settings}) as the P(meshfed.federation.federation_description#filter) filter reads it from the
        inventory.
      - A description is validated as a whole before anything is sent to a cluster; every problem is reported at
        once, naming the cluster, the inventory variable, the list item and the field.
      - A description is deprecated for M(meshfed.federation.private_gateway), M(meshfed.federation.service_export)
        and M(meshfed.federation.service_import), and will be refused from version 1.0.0; their roles validate
        the federation once per play and pass the validated one.
    type: dict
    required: true
  cluster:
    description:
      - Name of the cluster (inventory host) this call is about.
    type: str
    required: true
"""
