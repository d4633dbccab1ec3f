#!/usr/bin/env bash
# Creates the local cluster's PKI in $1: a CA, the apiserver's serving
# certificate (also used by kwok and the conversion webhook, all on
# 127.0.0.1), an admin client certificate, a service-account key pair and a
# token file. Reuses an existing PKI.
set -euo pipefail
dir="$1"
[ -f "$dir/admin.crt" ] && [ -f "$dir/tokens.csv" ] && exit 0
mkdir -p "$dir/webhook"
cd "$dir"
q() { openssl "$@" 2>/dev/null; }
q ecparam -name prime256v1 -genkey -noout -out ca.key
q req -x509 -new -key ca.key -subj "/CN=kubectl-sandbox-local-ca" -days 3650 -out ca.crt
cert() { # name subject san
  q ecparam -name prime256v1 -genkey -noout -out "$1.key"
  q req -new -key "$1.key" -subj "$2" -out "$1.csr"
  printf '%s\n' "$3" >"$1.ext"
  q x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile "$1.ext" -out "$1.crt"
  rm -f "$1.csr" "$1.ext"
}
cert apiserver "/CN=kube-apiserver" \
  "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc,IP:10.96.0.1"
cert admin "/O=system:masters/CN=admin" "extendedKeyUsage=clientAuth"
cp apiserver.crt webhook/tls.crt
cp apiserver.key webhook/tls.key
q genrsa -out sa.key 2048
q rsa -in sa.key -pubout -out sa.pub
token=$(openssl rand -hex 16)
echo "$token" >admin.token
echo "$token,admin,admin,system:masters" >tokens.csv
chmod 600 ./*.key admin.token tokens.csv
