#!/usr/bin/env bash
# Runs golangci-lint (pinned in hack/tools/lint) with .golangci.yml.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin=$("$ROOT/hack/build-go-tools.sh" lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint)
cd "$ROOT" && "$bin/golangci-lint" run ./...
