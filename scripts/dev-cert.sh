#!/usr/bin/env bash
# A self-signed certificate for https://localhost and https://127.0.0.1, for trying HTTPS (and
# device-bound sessions) on this machine: never for a real deployment.
#
#   scripts/dev-cert.sh [DIR]        (default: target/dev-cert)
#
# Writes DIR/cert.pem and DIR/key.pem (P-256, valid 30 days) and prints the certificate's SPKI
# hash, which a test browser is told to trust: chromium --ignore-certificate-errors-spki-list=HASH
# (Chromium's device-bound sessions need a certificate it trusts; --ignore-certificate-errors
# alone is not enough). Uses Debian's openssl.
set -euo pipefail
dir="${1:-target/dev-cert}"
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -addext "basicConstraints=critical,CA:FALSE" \
  -addext "extendedKeyUsage=serverAuth" \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
chmod 600 "$dir/key.pem"
spki=$(openssl x509 -in "$dir/cert.pem" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
echo "$spki" > "$dir/spki.txt"
echo "certificate: $dir/cert.pem" >&2
echo "key:         $dir/key.pem" >&2
echo "SPKI hash (for --ignore-certificate-errors-spki-list):" >&2
echo "$spki"
