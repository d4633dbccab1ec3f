#!/usr/bin/env bash
# Exits 0 when the local cluster runs: every recorded process is alive and
# the apiserver is ready.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/hack/lib/cluster.sh"
alive && kc get --raw /readyz >/dev/null 2>&1
