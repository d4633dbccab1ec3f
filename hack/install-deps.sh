#!/usr/bin/env bash
# Installs the Debian packages the project needs, when they are missing:
# for the local cluster's node, iptables (the kubelet's and kube-proxy's
# rules, in the node's own network namespace), the CNI plugins (bridge,
# host-local, portmap), iproute2 and util-linux (the node's namespaces and
# link), mmdebstrap (the images' Debian userland), libseccomp-dev (runc is
# built with seccomp) and gcc (the pause program, runc's cgo); openssl and
# curl for the scripts; bash-completion, zsh and fish for the completion
# tests; Node.js with npm for the MCP tests' client (test/mcp, on the
# official TypeScript SDK).
set -euo pipefail
missing=()
for tool in openssl:openssl curl:curl unshare:util-linux nsenter:util-linux ip:iproute2 \
  iptables:iptables mmdebstrap:mmdebstrap gcc:gcc zsh:zsh fish:fish node:nodejs npm:npm; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/portmap ] ||
  missing+=(containernetworking-plugins)
[ -f /usr/include/seccomp.h ] || missing+=(libseccomp-dev)
[ -f /usr/share/bash-completion/bash_completion ] || missing+=(bash-completion)
/usr/bin/python3 -c 'import json, shlex' 2>/dev/null || missing+=(python3) # the shlex oracle of a unit test
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
