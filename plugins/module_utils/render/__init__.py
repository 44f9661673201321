# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendering: pure functions from the federation model to Kubernetes/Istio objects.

private_gateway.py  gateway role: namespace, credential Secret, gateway Deployment/Service/HPA/PDB/RBAC
service_export.py   export role: ingress Gateway per export, VirtualService, local DestinationRules
service_import.py   import role: peer ServiceEntry/DestinationRule, egress Gateway/VirtualService per binding,
                    the local alias Service and the splitting VirtualService
istio.py, kube.py   one builder per kind (where a VirtualService is built: istio.virtual_service)

The names of what they build come from model/names.py.
"""
