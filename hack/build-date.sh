#!/usr/bin/env bash
# Prints the date a build of this checkout carries (version.date), UTC:
# SOURCE_DATE_EPOCH when set, else the last commit's date, else now. The
# Makefile's builds and hack/release.sh both use it: a release is
# reproducible, and `make build`'s link flags stay the same from one run to
# the next, so an up-to-date binary is not linked again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
  date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ
else
  TZ=UTC git -C "$ROOT" log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ
fi
