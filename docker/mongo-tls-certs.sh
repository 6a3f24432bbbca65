#!/bin/sh
# A private CA and a server certificate for mongod (compose/mongo-tls.yaml, k8s/overlays/tls),
# made with the openssl CLI. Never committed: the default directory, compose/tls/, is git-ignored.
#
#   docker/mongo-tls-certs.sh [DIR] [NAME...]
#
# DIR (default compose/tls, created 0700) gets
#   ca.pem     the CA certificate: what every client trusts (tlsCAFile=...)
#   mongo.pem  mongod's certificate AND its key in one PEM (--tlsCertificateKeyFile)
# NAME: the host names clients use for mongod, put in the certificate's subjectAltName (drivers
# check the host name of the URI against it). Default: mongo (the compose service), localhost and
# 127.0.0.1 (the healthcheck inside the container). For k8s, the pod's DNS names, e.g.
#   docker/mongo-tls-certs.sh k8s-tls mongo-0.mongo.coquelicot.svc.cluster.local localhost 127.0.0.1
# ECDSA P-256 keys, 825 days (the longest validity some clients accept for a server certificate).
# An existing ca.pem + ca.key are reused, so renewing the server certificate keeps clients' trust.
# The files are 0644 inside a 0700 directory: the directory keeps them private on the host; a
# bind-mounted secret keeps the file's mode, and mongod reads it as uid 999.
set -eu
dir=${1:-$(dirname "$0")/../compose/tls}
[ $# -eq 0 ] || shift
[ $# -gt 0 ] || set -- mongo localhost 127.0.0.1
command -v openssl >/dev/null || { echo "mongo-tls-certs: openssl is missing" >&2; exit 1; }
san=""
for n in "$@"; do
  case "$n" in
    *[!0-9.]*) san="$san${san:+,}DNS:$n" ;;
    *) san="$san${san:+,}IP:$n" ;;
  esac
done
umask 077
mkdir -p "$dir"
chmod 0700 "$dir"
cd "$dir"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
if [ ! -s ca.pem ] || [ ! -s ca.key ]; then
  # shellcheck disable=SC2086
  openssl req -x509 $ec -keyout ca.key -out ca.pem -days 825 -subj "/CN=coquelicot MongoDB CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi
# shellcheck disable=SC2086
openssl req $ec -keyout mongo.key -out mongo.csr -subj "/CN=$1" 2>/dev/null
printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n' \
  "$san" >mongo.ext
openssl x509 -req -in mongo.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
  -extfile mongo.ext -out mongo.crt 2>/dev/null
cat mongo.crt mongo.key >mongo.pem
rm -f mongo.csr mongo.ext mongo.crt mongo.key
chmod 0644 ca.pem mongo.pem
chmod 0600 ca.key
echo "mongo-tls-certs: $(pwd)/ca.pem and mongo.pem ($san)"
