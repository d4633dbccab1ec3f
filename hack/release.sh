#!/usr/bin/env bash
# Builds the release into DIST (default dist/): one archive per platform
# (tar.gz, zip on windows) with the binary, LICENSE and the
# kubectl_complete-sandbox helper; checksums.txt; and the rendered Krew
# manifest dist/krew/sandbox.yaml.
# Usage: release.sh VERSION [PLATFORMS]   (PLATFORMS: "linux/amd64 darwin/arm64 ...")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${1:?usage: release.sh VERSION [PLATFORMS]}"
PLATFORMS="${2:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64}"
DIST="${DIST:-$ROOT/dist}"
[[ "$VERSION" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || { echo "VERSION must look like v1.2.3, not '$VERSION'" >&2; exit 1; }

MODULE=github.com/kubectl-sandbox/kubectl-sandbox
COMMIT=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
DATE=$(git -C "$ROOT" log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS="-s -w -X $MODULE/pkg/plugin/version.version=$VERSION -X $MODULE/pkg/plugin/version.commit=$COMMIT -X $MODULE/pkg/plugin/version.date=$DATE"

rm -rf "$DIST"
mkdir -p "$DIST"
for platform in $PLATFORMS; do
  os=${platform%/*} arch=${platform#*/}
  ext=""; [ "$os" = windows ] && ext=.exe
  name="kubectl-sandbox_${VERSION}_${os}_${arch}"
  stage="$DIST/.stage/$name"
  mkdir -p "$stage"
  echo ">> $platform" >&2
  (cd "$ROOT" && CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$LDFLAGS" \
    -o "$stage/kubectl-sandbox$ext" ./cmd/kubectl-sandbox)
  cp "$ROOT/LICENSE" "$ROOT/plugins/kubectl_complete-sandbox" "$stage/"
  if [ "$os" = windows ]; then
    (cd "$stage" && /usr/bin/python3 -m zipfile -c "$DIST/$name.zip" ./*)
  else
    tar -C "$stage" --owner=0 --group=0 --mtime="$DATE" -czf "$DIST/$name.tar.gz" .
  fi
done
rm -rf "$DIST/.stage"
(cd "$DIST" && sha256sum -- *.tar.gz *.zip 2>/dev/null >checksums.txt || sha256sum -- *.tar.gz >checksums.txt)
/usr/bin/python3 "$ROOT/hack/render-krew-manifest.py" "$ROOT/plugins/krew-manifest.yaml" "$VERSION" "$DIST" "$DIST/krew/sandbox.yaml"
echo ">> wrote $DIST" >&2
