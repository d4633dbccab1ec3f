#!/usr/bin/env bash
# Creates the local cluster's PKI in $1: a CA; the API server's serving
# certificate (on the host's end of the node's link and on loopback; also
# used by the conversion webhook on 127.0.0.1); client certificates for the
# admin, the node's kubelet (system:node:NODE), kube-proxy and the API
# server's calls to the kubelet; the kubelet's serving certificate; a
# service-account key pair and a token file (the admin's and Traefik's
# tokens); for the Gateway: a CA of its own and its serving certificate; the
# scoped-token router's HMAC secret. Reuses an existing PKI of the
# same version ($1/version). Quiet when it succeeds; when a step
# fails it prints the step, the command and its output, and exits 1.
set -eEuo pipefail
dir="$1" node="${2:?usage: pki.sh DIR NODE_NAME HOST_LINK_IP NODE_IP}" host_ip="$3" node_ip="$4"
version="4 $node $host_ip $node_ip"
[ "$(cat "$dir/version" 2>/dev/null)" = "$version" ] && exit 0
rm -rf "$dir"

step="creating $dir"
fail() { # message [output]
  printf 'pki.sh: %s failed: %s\n' "$step" "$1" >&2
  [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/  /' >&2
  exit 1
}
trap 'fail "$BASH_COMMAND (line $LINENO)"' ERR
# ssl CMD...: runs openssl CMD; its chatter is kept back unless it fails.
ssl() {
  local out
  out=$(openssl "$@" 2>&1) || fail "openssl $*" "$out"
}

mkdir -p "$dir/webhook"
cd "$dir"
step="creating the CA"
ssl ecparam -name prime256v1 -genkey -noout -out ca.key
ssl req -x509 -new -key ca.key -subj "/CN=kubectl-sandbox-local-ca" -days 3650 -out ca.crt
cert() { # name subject extension
  step="creating the $1 certificate"
  ssl ecparam -name prime256v1 -genkey -noout -out "$1.key"
  ssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
  printf '%s\n' "$3" >"$1.ext"
  ssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile "$1.ext" -out "$1.crt"
  rm -f "$1.csr" "$1.ext"
}
cert apiserver "/CN=kube-apiserver" \
  "subjectAltName=IP:$host_ip,IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert admin "/O=system:masters/CN=admin" "extendedKeyUsage=clientAuth"
cert kubelet "/O=system:nodes/CN=system:node:$node" "extendedKeyUsage=clientAuth"
cert kubelet-serving "/CN=$node" "subjectAltName=IP:$node_ip,DNS:$node
extendedKeyUsage=serverAuth"
cert kube-proxy "/CN=system:kube-proxy" "extendedKeyUsage=clientAuth"
cert apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=clientAuth"
# The Gateway's HTTPS listeners: a CA apart from the cluster's, so that a
# client trusting the cluster's CA (a wrong CA for the Gateway) is refused.
step="creating the Gateway's CA"
ssl ecparam -name prime256v1 -genkey -noout -out gateway-ca.key
ssl req -x509 -new -key gateway-ca.key -subj "/CN=kubectl-sandbox-local-gateway-ca" -days 3650 -out gateway-ca.crt
step="creating the Gateway's serving certificate"
ssl ecparam -name prime256v1 -genkey -noout -out gateway.key
ssl req -new -key gateway.key -subj "/CN=sandbox-gateway" -out gateway.csr
printf 'subjectAltName=IP:%s,DNS:sandbox-gateway.local\nextendedKeyUsage=serverAuth\n' "$host_ip" >gateway.ext
ssl x509 -req -in gateway.csr -CA gateway-ca.crt -CAkey gateway-ca.key -CAcreateserial -days 3650 -extfile gateway.ext -out gateway.crt
rm -f gateway.csr gateway.ext
step="creating the scoped-token router's secret"
ssl rand -hex -out scoped-token.key 32
step="copying the webhook's serving certificate"
cp apiserver.crt webhook/tls.crt
cp apiserver.key webhook/tls.key
step="creating the service-account key pair"
ssl genrsa -out sa.key 2048
ssl rsa -in sa.key -pubout -out sa.pub
step="creating the admin token"
ssl rand -hex -out admin.token 16
ssl rand -hex -out traefik.token 16
{
  echo "$(cat admin.token),admin,admin,system:masters"
  echo "$(cat traefik.token),traefik-gateway,traefik-gateway"
} >tokens.csv
chmod 600 ./*.key ./*.token tokens.csv
echo "$version" >version
