# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's parts, one job per module (see docs/lab.md):

common      paths, versions, logging, the error type
state       a lab directory: state file, kubectl/kwokctl runners, the binaries
procs       processes and sockets: ownership by lab directory, stopping, listening ports
clusters    kwok clusters: create, delete, health, node, kubeconfig
istio_base  Istio CRDs, istio-system and the injector registration
kubeapi     a small Kubernetes API client (list, watch, patch, token requests) for the controller
netns       network namespaces: one hub, one per cluster, sockets inside them
istiod      one pilot-discovery per cluster, its own CA
proxies     pilot-agent + Envoy for the pods that matter (gateways, sample apps)
apps        the sample apps' small HTTP, TCP, TLS and gRPC servers
loadbalancer  addresses for LoadBalancer Services
controller  the lab's background controller: pods -> processes, Services -> addresses
check       `lab check`
"""
