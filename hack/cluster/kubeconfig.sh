#!/usr/bin/env bash
# Prints an admin kubeconfig (client certificate) for the local cluster.
# Usage: kubeconfig.sh PKI_DIR SERVER_URL
set -euo pipefail
pki="$1" server="$2"
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
- name: admin
  user:
    client-certificate-data: $(b64 "$pki/admin.crt")
    client-key-data: $(b64 "$pki/admin.key")
contexts:
- name: local
  context:
    cluster: local
    user: admin
    namespace: default
current-context: local
KC
