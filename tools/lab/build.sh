#!/usr/bin/env bash
# Build the lab's binaries from Go modules (never from release downloads) into a cache outside the repo.
#   tools/lab/build.sh            build what is missing, print the bin directory on the last line
# Environment:
#   MESHFED_LAB_CACHE   cache root (default ~/.cache/meshfed-lab): binaries, Go module and build caches
#   MESHFED_LAB_BIN_DIR a directory that already holds kube-apiserver, kube-controller-manager,
#                       kube-scheduler, etcd, kwok, kwokctl, istioctl, pilot-discovery, pilot-agent: used as is
#   MESHFED_LAB_GO_P    packages compiled at once for istiod and pilot-agent (go build -p; default 1 on two cores)
# A kubectl of the same Kubernetes version is also built into the cache directory (optional for
# MESHFED_LAB_BIN_DIR and PATH: tools/lab/lab.py falls back to the kubectl on PATH).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
cache=${MESHFED_LAB_CACHE:-$HOME/.cache/meshfed-lab}
binaries=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok kwokctl istioctl pilot-discovery pilot-agent)

log() { printf '[lab build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

have_all() {
  local dir=$1 b
  for b in "${binaries[@]}"; do [ -x "$dir/$b" ] || return 1; done
}

if [ -n "${MESHFED_LAB_BIN_DIR:-}" ]; then
  have_all "$MESHFED_LAB_BIN_DIR" || { log "MESHFED_LAB_BIN_DIR=$MESHFED_LAB_BIN_DIR lacks one of: ${binaries[*]}"; exit 1; }
  echo "$MESHFED_LAB_BIN_DIR"; exit 0
fi

# Binaries already on PATH (all of them) are used as they are.
path_dir=""
if command -v kube-apiserver >/dev/null 2>&1; then
  path_dir=$(dirname "$(command -v kube-apiserver)")
  if have_all "$path_dir"; then echo "$path_dir"; exit 0; fi
fi

key="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_istio-${ISTIO_VERSION}"
bin="$cache/bin/$key"
mkdir -p "$bin" "$cache/work"
# one build at a time per cache (two labs, or CI beside a session): the second waits, then finds the binaries
exec 9>"$cache/build.lock"
if ! flock -n 9; then
  log "another build of $cache is running; waiting for it"
  flock 9
fi
export GOMODCACHE="$cache/gomod" GOCACHE="$cache/gobuild" GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
export GOTOOLCHAIN=local GONOSUMDB='*' GOFLAGS="$GOFLAGS"
go_ldflags_strip="-s -w"
go_p=2

# build_in_wrapper NAME GOMOD_BODY LDFLAGS PKG:OUT[:TAGS]...
build_in_wrapper() {
  local name=$1 gomod=$2 ldflags=$3; shift 3
  local missing=() spec
  local pkg out tags
  for spec in "$@"; do IFS=: read -r pkg out tags <<<"$spec"; [ -x "$bin/$out" ] || missing+=("$spec"); done
  [ ${#missing[@]} -gt 0 ] || { log "$name: cached"; return 0; }
  local dir="$cache/work/$name-$key" start=$SECONDS
  mkdir -p "$dir"
  printf '%s\n' "$gomod" >"$dir/go.mod"
  : >"$dir/go.sum"
  log "$name: building ${missing[*]} (first build downloads modules and compiles; minutes)"
  for spec in "${missing[@]}"; do
    IFS=: read -r pkg out tags <<<"$spec"
    (while sleep 60; do log "$name: still building $out"; done) &
    local heartbeat=$!
    (cd "$dir" && go build -p "$go_p" -trimpath ${tags:+-tags="$tags"} -ldflags "$go_ldflags_strip $ldflags" -o "$bin/$out.tmp" "$pkg") \
      || { kill "$heartbeat" 2>/dev/null; log "$name: building $out failed"; exit 1; }
    kill "$heartbeat" 2>/dev/null || true
    mv "$bin/$out.tmp" "$bin/$out"
    log "$name: $out done ($((SECONDS - start))s)"
  done
}

kubernetes_gomod() {
  local v=$KUBERNETES_VERSION staging_version modfile
  staging_version="v0.${v#v1.}"
  modfile="$cache/work/kubernetes-$v.mod"
  [ -s "$modfile" ] || go mod download -json "k8s.io/kubernetes@$v" | python3 -c 'import json,sys,shutil; shutil.copy(json.load(sys.stdin)["GoMod"], sys.argv[1])' "$modfile"
  printf 'module meshfed.local/lab/kubernetes\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$v"
  # every staging module that k8s.io/kubernetes replaces with ./staging and also requires
  python3 - "$modfile" "$staging_version" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
staged = re.findall(r"^\s*(k8s\.io/[\w.-]+) => \./staging/", text, re.M)
required = set(re.findall(r"^\s*(k8s\.io/[\w.-]+) v0\.0\.0", text, re.M))
for mod in staged:
    if mod in required:
        print(f"\t{mod} => {mod} {sys.argv[2]}")
PY
  printf ')\n'
}

k8s_ldflags() {
  local v=$KUBERNETES_VERSION minor
  minor=${v#v1.}; minor=${minor%%.*}
  local f="" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    f+=" -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$f"
}

total_start=$SECONDS
build_in_wrapper etcd "$(printf 'module meshfed.local/lab/etcd\n\ngo 1.26\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION")" "" \
  go.etcd.io/etcd/server/v3:etcd
build_in_wrapper kwok "$(printf 'module meshfed.local/lab/kwok\n\ngo 1.26\n\nrequire sigs.k8s.io/kwok %s\n' "$KWOK_VERSION")" \
  "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$KUBERNETES_VERSION" \
  sigs.k8s.io/kwok/cmd/kwok:kwok sigs.k8s.io/kwok/cmd/kwokctl:kwokctl
need_k8s=0
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do [ -x "$bin/$b" ] || need_k8s=1; done
if [ $need_k8s = 1 ]; then
  build_in_wrapper kubernetes "$(kubernetes_gomod)" "$(k8s_ldflags)" \
    k8s.io/kubernetes/cmd/kube-apiserver:kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager:kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler:kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl:kubectl
fi
# Istio's release ldflags (common/scripts/report_build_info.sh); the version is the module's VERSION file + -dev
istio_ldflags() {
  local dir version f="" kv
  dir=$(go mod download -json "istio.io/istio@$ISTIO_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  version="$(cat "$dir/VERSION")-dev"
  for kv in "buildVersion=$version" "buildGitRevision=${ISTIO_VERSION##*-}" buildStatus=Clean "buildTag=$version" \
            buildHub=docker.io/istio buildOS=linux buildArch=amd64; do
    f+=" -X istio.io/istio/pkg/version.$kv"
  done
  echo "$f"
}
istio_gomod="$(printf 'module meshfed.local/lab/istioctl\n\ngo 1.26\n\nrequire istio.io/istio %s\n' "$ISTIO_VERSION")"
build_in_wrapper istioctl "$istio_gomod" "" istio.io/istio/istioctl/cmd/istioctl:istioctl
# istiod and the proxy agent, with the tags of Istio's release builds
need_pilot=0
for b in pilot-discovery pilot-agent; do [ -x "$bin/$b" ] || need_pilot=1; done
if [ $need_pilot = 1 ]; then
  go_p=${MESHFED_LAB_GO_P:-1}
  build_in_wrapper istioctl "$istio_gomod" "$(cd "$cache/work" && istio_ldflags)" \
    istio.io/istio/pilot/cmd/pilot-discovery:pilot-discovery:vtprotobuf,disable_pgv \
    istio.io/istio/pilot/cmd/pilot-agent:pilot-agent:agent,disable_pgv
fi
log "all binaries ready in $bin ($((SECONDS - total_start))s)"
echo "$bin"
