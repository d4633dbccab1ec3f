#!/usr/bin/env bash
# Fails when `go mod tidy` would change go.mod or go.sum of the root module or
# of any tool module under hack/tools or test/bench/gosdk, and shows the change;
# and when the plugin and the Kubernetes tools hold a module at two versions.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
status=0
for dir in "$ROOT" "$ROOT"/hack/tools/*/ "$ROOT"/test/bench/gosdk/; do
  if ! (cd "$dir" && GOFLAGS=-mod=mod go mod tidy -diff); then
    echo "go mod tidy changes $(realpath --relative-to="$ROOT" "$dir")/go.mod or go.sum: run it there and commit" >&2
    status=1
  fi
done
# The Kubernetes tools share the packages the plugin compiled only if every
# module both builds hold is at one version (hack/tools/k8s/go.mod).
mods() { # dir package...: "module version" of each module the packages use
  (cd "$1" && shift && GOFLAGS=-mod=readonly CGO_ENABLED=0 go list -deps \
    -f '{{with .Module}}{{.Path}} {{with .Replace}}{{.Version}}{{else}}{{.Version}}{{end}}{{end}}' "$@" | sort -u)
}
source "$ROOT/hack/lib/tools.sh"
apart=$(join <(mods "$ROOT" ./cmd/kubectl-sandbox) <(mods "$ROOT/hack/tools/k8s" "${K8S[@]#*=}") | awk '$2 != $3')
if [ -n "$apart" ]; then
  echo "modules at other versions in the plugin and hack/tools/k8s (module, plugin's, k8s tools'): the tools' build cannot reuse the plugin's packages; align hack/tools/k8s/go.mod (go get MODULE@VERSION there):" >&2
  echo "$apart" >&2
  status=1
fi
exit $status
