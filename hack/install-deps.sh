#!/usr/bin/env bash
# Installs the Debian packages the local cluster needs, when they are missing:
# the upstream python runtime's dependencies (FastAPI, uvicorn,
# python-multipart under /usr/bin/python3), bubblewrap for the per-pod
# sandbox of each runtime, the tools the scripts use, bash-completion, zsh
# and fish for the completion tests, and Node.js with npm for the MCP tests'
# client (test/mcp, on the official TypeScript SDK).
set -euo pipefail
missing=()
/usr/bin/python3 -c 'import fastapi, uvicorn, multipart' 2>/dev/null ||
  missing+=(python3-fastapi python3-uvicorn python3-multipart)
for tool in bwrap:bubblewrap openssl:openssl curl:curl unshare:util-linux zsh:zsh fish:fish node:nodejs npm:npm; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
[ -f /usr/share/bash-completion/bash_completion ] || missing+=(bash-completion)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
