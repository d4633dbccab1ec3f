#!/usr/bin/env bash
# Builds the release into DIST (default dist/). The same source, toolchain
# and VERSION give the same bytes (-trimpath; archive entries in name order
# with one time stamp, owner and normalised modes; gzip headers without time;
# SBOMs without serial number or time stamp):
#   kubectl-sandbox_VERSION_OS_ARCH.tar.gz (.zip on windows): the binary,
#     LICENSE and the kubectl_complete-sandbox helper
#   kubectl-sandbox_VERSION_OS_ARCH.sbom.cdx.json: the binary's SBOM
#     (CycloneDX, written by cyclonedx-gomod from its Go build information)
#   checksums.txt: the sha256 of each archive and SBOM
#   krew/sandbox.yaml: the Krew manifest, rendered from the template
#     plugins/krew-manifest.yaml
# It then commits that manifest as plugins/sandbox.yaml to our custom Krew
# index, the git repository KREW_INDEX (default DIST/krew-index, made if
# missing); publishing it at INDEX_URL, the URL the README tells users to
# add, is what makes `kubectl krew upgrade` offer the release.
#
# Usage: release.sh VERSION [PLATFORMS]   (default: every platform of the manifest)
# Environment: DIST; KREW_INDEX; RELEASE_URL, where the manifest says the
# archives are (default: the GitHub release of VERSION); SOURCE_DATE_EPOCH,
# the time of the archive entries, the index commit and `version` (default:
# the commit time of HEAD).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${1:?usage: release.sh VERSION [PLATFORMS]}"
PLATFORMS="${2:-$("$ROOT/hack/platforms.sh")}"
DIST="${DIST:-$ROOT/dist}"
KREW_INDEX="${KREW_INDEX:-$DIST/krew-index}"
INDEX_URL=https://github.com/kubectl-sandbox/krew-index.git
[[ "$VERSION" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || { echo "VERSION must look like v1.2.3, not '$VERSION'" >&2; exit 1; }

MODULE=github.com/kubectl-sandbox/kubectl-sandbox
COMMIT=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
DATE=$("$ROOT/hack/build-date.sh")
LDFLAGS="-s -w -X $MODULE/pkg/plugin/version.version=$VERSION -X $MODULE/pkg/plugin/version.commit=$COMMIT -X $MODULE/pkg/plugin/version.date=$DATE"

sbom=$("$ROOT/hack/build-go-tools.sh" sbom github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod)/cyclonedx-gomod
rm -rf "$DIST"
mkdir -p "$DIST/.stage"
(cd "$ROOT" && go build -o "$DIST/.stage/archive" ./hack/archive)
for platform in $PLATFORMS; do
  os=${platform%/*} arch=${platform#*/}
  ext="" format=tar.gz
  [ "$os" = windows ] && ext=.exe format=zip
  name="kubectl-sandbox_${VERSION}_${os}_${arch}"
  stage="$DIST/.stage/$name"
  mkdir -p "$stage"
  echo ">> $platform" >&2
  (cd "$ROOT" && CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -gcflags=all=-dwarf=false -ldflags "$LDFLAGS" \
    -o "$stage/kubectl-sandbox$ext" ./cmd/kubectl-sandbox)
  "$DIST/.stage/archive" -mtime "$DATE" -o "$DIST/$name.$format" \
    "$stage/kubectl-sandbox$ext" "$ROOT/LICENSE" "$ROOT/plugins/kubectl_complete-sandbox"
  # Licenses are read from the module cache, which the build filled (and
  # checked against go.sum); GOPROXY=off keeps the network, and what it may
  # say later, out of the SBOM. Our own module is not in the cache: its
  # license is the archive's LICENSE. Its package URLs take the platform
  # from `go env`, not from the binary: GOOS and GOARCH say it.
  (cd "$ROOT" && GOOS=$os GOARCH=$arch GOPROXY=off GOSUMDB=off "$sbom" bin -json -noserial -notimestamp -licenses \
    -version "$VERSION" -output "$DIST/$name.sbom.cdx.json" "$stage/kubectl-sandbox$ext" 2>"$stage/sbom.log") ||
    { cat "$stage/sbom.log" >&2; exit 1; }
done
rm -rf "$DIST/.stage"
(cd "$DIST" && shopt -s nullglob && files=(*.tar.gz *.zip *.sbom.cdx.json) &&
  printf '%s\n' "${files[@]}" | LC_ALL=C sort | xargs sha256sum -- >checksums.txt)
/usr/bin/python3 "$ROOT/hack/render-krew-manifest.py" "$ROOT/plugins/krew-manifest.yaml" "$VERSION" "$DIST" "$DIST/krew/sandbox.yaml" ${RELEASE_URL:+"$RELEASE_URL"}

# The custom Krew index: one commit per release, dated like the release.
if [ ! -d "$KREW_INDEX/.git" ]; then
  git init -q -b main "$KREW_INDEX"
  cat >"$KREW_INDEX/README.md" <<README
# The Krew index of kubectl-sandbox

\`\`\`sh
kubectl krew index add kubectl-sandbox $INDEX_URL
kubectl krew install kubectl-sandbox/sandbox
\`\`\`

\`make release\` of $MODULE writes plugins/sandbox.yaml: do not edit it here.
README
fi
mkdir -p "$KREW_INDEX/plugins"
cp "$DIST/krew/sandbox.yaml" "$KREW_INDEX/plugins/sandbox.yaml"
git -C "$KREW_INDEX" add README.md plugins/sandbox.yaml
if ! git -C "$KREW_INDEX" diff --cached --quiet; then
  GIT_AUTHOR_NAME="kubectl-sandbox release" GIT_AUTHOR_EMAIL="release@kubectl-sandbox.invalid" GIT_AUTHOR_DATE="$DATE" \
  GIT_COMMITTER_NAME="kubectl-sandbox release" GIT_COMMITTER_EMAIL="release@kubectl-sandbox.invalid" GIT_COMMITTER_DATE="$DATE" \
    git -C "$KREW_INDEX" -c commit.gpgsign=false commit -q -m "sandbox $VERSION"
fi
echo ">> wrote $DIST; the Krew index $KREW_INDEX is at sandbox $VERSION: push it to $INDEX_URL" >&2
