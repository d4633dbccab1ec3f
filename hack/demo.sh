#!/usr/bin/env bash
# The README's main job: run a one-shot sandbox with the plugin, through the
# real kubectl. It uses the current kubeconfig's cluster when that cluster
# serves agent-sandbox with a "python" SandboxTemplate; otherwise it builds
# and starts the local cluster.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/bin:$PATH"

if [ -z "${DEMO_LOCAL:-}" ] && kubectl sandbox templates python -o name >/dev/null 2>&1; then
  echo ">> using the cluster of the current kubeconfig context ($(kubectl config current-context))" >&2
else
  echo ">> no agent-sandbox cluster with a 'python' template in the current kubeconfig: using the local cluster" >&2
  # gVisor and the Gateway only if already built: the demo needs neither.
  CLUSTER_GVISOR=${CLUSTER_GVISOR:-auto} CLUSTER_GATEWAY=${CLUSTER_GATEWAY:-auto} "$ROOT/hack/cluster-up.sh"
  # shellcheck disable=SC1091
  . "$ROOT/_output/cluster/env"
fi

run() { echo; echo "$ $(printf '%q ' "$@")"; "$@"; }
run kubectl sandbox pools
run kubectl sandbox run --template python -- python3 -c "print('hello from a sandbox')"
