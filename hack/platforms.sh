#!/usr/bin/env bash
# Prints the platforms (GOOS/GOARCH, one a line) that the Krew manifest
# template plugins/krew-manifest.yaml lists: the ones a release builds and
# `make cross` checks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sed -n 's|^ *matchLabels: {os: \([a-z0-9]*\), arch: \([a-z0-9]*\)}$|\1/\2|p' "$ROOT/plugins/krew-manifest.yaml"
