#!/usr/bin/env bash
# Prints a kubeconfig for the local cluster with the client certificate
# PKI_DIR/USER.crt (default admin).
# Usage: kubeconfig.sh PKI_DIR SERVER_URL [USER]
set -euo pipefail
pki="$1" server="$2" user="${3:-admin}"
b64() { base64 -w0 <"$1"; }
cat <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: $server
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(b64 "$pki/$user.crt")
    client-key-data: $(b64 "$pki/$user.key")
contexts:
- name: local
  context:
    cluster: local
    user: $user
    namespace: default
current-context: local
KC
