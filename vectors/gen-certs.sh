#!/usr/bin/env bash
# Regenerates the test PKI in vectors/: one ECDSA P-256 CA and a localhost end-entity
# certificate per key type (ECDSA P-256, ECDSA P-384, Ed25519, RSA-2048), valid 2025-2045;
# and an RSASSA-PSS chain (see the end).
set -euo pipefail
cd "$(dirname "$0")"
days=7300
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -days $days -subj "/CN=sanstls test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
leaf() {
  local name=$1; shift
  local host=${HOST:-localhost} san=${SAN:-DNS:localhost,IP:127.0.0.1,IP:::1} ku=${KU:-digitalSignature}
  openssl req -new -nodes -newkey "$@" -keyout "$name.key" -out "$name.csr" -subj "/CN=$host"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$name.pem" -days $days \
    -extfile <(printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,%s\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$ku" "$san")
  rm -f "$name.csr"
}
leaf localhost-ecdsa-p256 ec -pkeyopt ec_paramgen_curve:P-256
leaf localhost-ecdsa-p384 ec -pkeyopt ec_paramgen_curve:P-384
leaf localhost-ed25519 ed25519
leaf localhost-rsa2048 rsa:2048
# A second name, for certificate selection by SNI (sanstls serve with several --cert).
HOST=other.test SAN=DNS:other.test leaf other-test-ecdsa-p256 ec -pkeyopt ec_paramgen_curve:P-256
# keyUsage without digitalSignature: its key may not sign a handshake (RFC 8446 4.4.2.2).
KU=keyAgreement leaf localhost-ecdsa-p256-keyagreement ec -pkeyopt ec_paramgen_curve:P-256
# RSASSA-PSS (id-RSASSA-PSS keys, RFC 4055): an intermediate CA under ca.pem and a localhost
# certificate it signs with RSA-PSS (SHA-256, salt 32); localhost-rsa-pss.pem holds the chain
# (end entity, then the intermediate).
openssl req -new -nodes -newkey rsa-pss -pkeyopt rsa_keygen_bits:2048 -keyout rsa-pss-ca.key -out rsa-pss-ca.csr \
  -subj "/CN=sanstls test RSA-PSS CA"
openssl x509 -req -in rsa-pss-ca.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out rsa-pss-ca.pem -days $days \
  -extfile <(printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n')
openssl req -new -nodes -newkey rsa-pss -pkeyopt rsa_keygen_bits:2048 -keyout localhost-rsa-pss.key \
  -out localhost-rsa-pss.csr -subj "/CN=localhost"
openssl x509 -req -in localhost-rsa-pss.csr -CA rsa-pss-ca.pem -CAkey rsa-pss-ca.key -CAcreateserial \
  -sigopt rsa_pss_saltlen:digest -out localhost-rsa-pss.pem -days $days \
  -extfile <(printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n')
cat rsa-pss-ca.pem >> localhost-rsa-pss.pem
rm -f ca.srl rsa-pss-ca.srl rsa-pss-ca.csr localhost-rsa-pss.csr
