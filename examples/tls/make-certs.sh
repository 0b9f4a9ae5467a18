#!/usr/bin/env bash
# Makes a throwaway CA and a server certificate signed by it, for the tls
# example and for trying strait's TLS locally. Not for production: the CA
# key is left unencrypted beside the certificates.
#
#   examples/tls/make-certs.sh [DIR]     # default ./certs
#
# Writes DIR/ca.crt (give it to clients: grpcurl -cacert, SslCredentials),
# DIR/ca.key, DIR/server.crt and DIR/server.key. The server certificate is
# for the names localhost and 127.0.0.1, valid 30 days. Existing files are
# replaced.
set -euo pipefail
dir=${1:-./certs}
mkdir -p "$dir"
command -v openssl >/dev/null || { echo "make-certs.sh: openssl is needed" >&2; exit 1; }
ext=$(mktemp)
trap 'rm -f "$ext" "$dir/server.csr" "$dir/ca.srl"' EXIT

# The CA: a self-signed certificate allowed to sign others.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$dir/ca.key" -out "$dir/ca.crt" -days 30 \
  -subj "/CN=strait example CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

# The server: a key, a request, and the CA's signature with the names
# clients verify (SAN: a TLS client checks these, not the CN).
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=localhost" 2>/dev/null
cat >"$ext" <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
EXT
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
  -CAcreateserial -out "$dir/server.crt" -days 30 -extfile "$ext" 2>/dev/null
chmod 600 "$dir/ca.key" "$dir/server.key"
echo "make-certs.sh: wrote $dir/ca.crt, $dir/server.crt and $dir/server.key"
