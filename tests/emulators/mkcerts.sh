#!/bin/sh
# mkcerts.sh DIR - create a throw-away test CA and a server certificate for
# the emulators (openssl CLI only).
#
#   DIR/ca.pem, DIR/ca.key          test CA (EC P-256, CA:TRUE, keyCertSign)
#   DIR/server.pem, DIR/server.key  server cert signed by it, SAN
#                                   IP:127.0.0.1, IP:::1, DNS:localhost,
#                                   DNS:adfs.test, DNS:sts.test (names
#                                   tests/resolvfault resolves),
#                                   EKU serverAuth
#   DIR/server-full.pem             server.pem then server.key in one file
#                                   (the emulators' tls_cert knob)
#
# Both are valid for 2 days.  Idempotent: if the five files exist, the server
# certificate verifies against the CA and stays valid for at least another
# 12 hours, nothing is done.  Quiet unless something fails.
set -eu

dir=${1:?usage: mkcerts.sh DIR}
mkdir -p "$dir"
cd "$dir"

if [ -s ca.pem ] && [ -s ca.key ] && [ -s server.pem ] && [ -s server.key ] &&
   [ -s server-full.pem ] &&
   openssl verify -CAfile ca.pem server.pem >/dev/null 2>&1 &&
   openssl x509 -in server.pem -noout -checkend 43200 >/dev/null 2>&1 &&
   openssl x509 -in ca.pem -noout -checkend 43200 >/dev/null 2>&1; then
	exit 0
fi

tmp=$(mktemp -d "./.mkcerts.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
umask 077

cat >"$tmp/ca.ext" <<'EOF'
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
cat >"$tmp/server.ext" <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost, DNS:adfs.test, DNS:sts.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

run() { "$@" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }; }

# CA: self-signed; the request is signed with -extfile so the extensions
# above are exactly what the certificate carries.
run openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/ca.key"
run openssl req -new -key "$tmp/ca.key" -subj "/O=adfs-credd tests/CN=adfs-credd test CA" \
	-out "$tmp/ca.csr"
run openssl x509 -req -in "$tmp/ca.csr" -signkey "$tmp/ca.key" -days 2 -sha256 \
	-set_serial "0x$(openssl rand -hex 8)" -extfile "$tmp/ca.ext" -out "$tmp/ca.pem"

# Server certificate.
run openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/server.key"
run openssl req -new -key "$tmp/server.key" -subj "/O=adfs-credd tests/CN=localhost" \
	-out "$tmp/server.csr"
run openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -days 2 \
	-sha256 -set_serial "0x$(openssl rand -hex 8)" -extfile "$tmp/server.ext" \
	-out "$tmp/server.pem"
run openssl verify -CAfile "$tmp/ca.pem" "$tmp/server.pem"

cat "$tmp/server.pem" "$tmp/server.key" >"$tmp/server-full.pem"

chmod 600 "$tmp/ca.key" "$tmp/server.key" "$tmp/server-full.pem"
chmod 644 "$tmp/ca.pem" "$tmp/server.pem"
for f in ca.key ca.pem server.key server.pem server-full.pem; do
	mv -f "$tmp/$f" "./$f"
done
