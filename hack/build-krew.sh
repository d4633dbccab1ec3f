#!/usr/bin/env bash
# Builds krew (also as the kubectl plugin kubectl-krew) and
# validate-krew-manifest from the pinned sigs.k8s.io/krew. Prints the folder.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin=$("$ROOT/hack/build-go-tools.sh" krew sigs.k8s.io/krew/cmd/krew sigs.k8s.io/krew/cmd/validate-krew-manifest)
ln -sf krew "$bin/kubectl-krew"
echo "$bin"
