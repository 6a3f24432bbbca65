#!/bin/sh
# TEST-ONLY: the official mongo image's interface in front of mongo-sim, so compose/emulated.yaml
# swaps only the image. Like docker-library/mongo's docker-entrypoint.sh: a first argument that
# is a flag means `mongod FLAGS`; MONGO_INITDB_ROOT_USERNAME(_FILE) + MONGO_INITDB_ROOT_PASSWORD
# (_FILE) create a root user in `admin` and turn on --auth. mongod flags are translated to
# mongo-sim's; an unknown one is refused (exit 2) rather than silently ignored.
set -eu
case "${1:-mongod}" in
  -*) set -- mongod "$@" ;;
esac
[ "${1:-mongod}" = mongod ] || exec "$@"
[ $# -eq 0 ] || shift

repl="" port=27017 keyfile="" auth="" tlsmode="" tlspem="" tlsca="" tlsnocert=""
while [ $# -gt 0 ]; do
  case "$1" in
    --replSet) repl=$2; shift 2 ;;
    --replSet=*) repl=${1#*=}; shift ;;
    --port) port=$2; shift 2 ;;
    --bind_ip_all) shift ;;
    --keyFile) keyfile=$2; shift 2 ;;
    --keyFile=*) keyfile=${1#*=}; shift ;;
    --auth) auth=1; shift ;;
    # net.tls.*: only what compose/mongo-tls.yaml and k8s/overlays/tls use.
    --tlsMode) tlsmode=$2; shift 2 ;;
    --tlsMode=*) tlsmode=${1#*=}; shift ;;
    --tlsCertificateKeyFile) tlspem=$2; shift 2 ;;
    --tlsCertificateKeyFile=*) tlspem=${1#*=}; shift ;;
    --tlsCAFile) tlsca=$2; shift 2 ;;
    --tlsCAFile=*) tlsca=${1#*=}; shift ;;
    --tlsAllowConnectionsWithoutCertificates) tlsnocert=1; shift ;;
    *) echo "mongo-sim image: mongod flag '$1' is not emulated" >&2; exit 2 ;;
  esac
done

# file_env of the official entrypoint: VAR or VAR_FILE, not both.
file_env() {
  eval "v=\${$1:-} f=\${$1_FILE:-}"
  if [ -n "$v" ] && [ -n "$f" ]; then
    echo "error: both $1 and $1_FILE are set (but are exclusive)" >&2; exit 1
  fi
  if [ -n "$f" ]; then v=$(cat "$f"); fi
  eval "$1=\$v"
}
file_env MONGO_INITDB_ROOT_USERNAME
file_env MONGO_INITDB_ROOT_PASSWORD

set -- --member "${MONGO_SIM_MEMBER:-$(hostname):$port}=0.0.0.0:$port" --data-dir /data/db
[ -z "$repl" ] || set -- "$@" --repl-set "$repl"
case "$tlsmode" in
  "" | disabled)
    [ -z "$tlspem$tlsca$tlsnocert" ] || { echo "mongo-sim image: TLS options without --tlsMode requireTLS are not emulated" >&2; exit 2; } ;;
  requireTLS)
    # mongod refuses to start with a TLS mode and no certificate: its SSL options initializer
    # throws this BadValue, mongod_main logs "Error during global initialization" (a fatal JSON
    # log line on stdout, the console log without --logpath) and exits 1 (ExitCode::fail) —
    # docs/reviews/second-reading-mongod-tls-flags.md.
    [ -n "$tlspem" ] || {
      printf '{"t":{"$date":"%s"},"s":"F","c":"CONTROL","id":20574,"ctx":"main","msg":"Error during global initialization","attr":{"error":{"code":2,"codeName":"BadValue","errmsg":"need tlsCertificateKeyFile or certificateSelector when TLS is enabled"}}}\n' \
        "$(date -u +%Y-%m-%dT%H:%M:%S.000+00:00)"
      exit 1
    }
    set -- "$@" --tls-cert-key-file "$tlspem"
    [ -z "$tlsca" ] || set -- "$@" --tls-ca-file "$tlsca"
    [ -z "$tlsnocert" ] || set -- "$@" --tls-allow-connections-without-certificates ;;
  *) echo "mongo-sim image: --tlsMode $tlsmode is not emulated (requireTLS or disabled)" >&2; exit 2 ;;
esac
# Test knob (no mongod twin): a mongod that starts listening late (engine suite, scenario 2).
[ -z "${MONGO_SIM_LISTEN_DELAY:-}" ] || set -- "$@" --listen-delay "$MONGO_SIM_LISTEN_DELAY"

if [ -n "$keyfile" ]; then
  # mongod's readSecurityFile (src/mongo/db/auth/security_file.cpp), in its order: stat, then
  # no group/other permission bit at all ("permissions on FILE are too open"), then open as
  # mongod's user, then base64 characters only (whitespace skipped); security_key.cpp bounds the
  # key to 6..1024 characters. A key file implies --auth.
  [ -e "$keyfile" ] || { echo "Error reading file $keyfile: No such file or directory" >&2; exit 1; }
  mode=$(stat -c %a "$keyfile")
  if [ $((0$mode & 077)) -ne 0 ]; then
    echo "permissions on $keyfile are too open" >&2; exit 1
  fi
  [ -r "$keyfile" ] || { echo "error opening file: $keyfile: Permission denied" >&2; exit 1; }
  key=$(tr -d ' \t\n\r\v\f' <"$keyfile")
  if [ -n "$(printf %s "$key" | tr -d 'A-Za-z0-9+/=')" ]; then
    echo "invalid char in key file $keyfile" >&2; exit 1
  fi
  if [ "${#key}" -lt 6 ] || [ "${#key}" -gt 1024 ]; then
    echo "security key in $keyfile has length ${#key}, must be between 6 and 1024 chars" >&2; exit 1
  fi
  auth=1
fi

if [ -n "$MONGO_INITDB_ROOT_USERNAME" ] && [ -n "$MONGO_INITDB_ROOT_PASSWORD" ]; then
  users=$(mktemp)
  chmod 0600 "$users"
  printf '%s:%s:root\n' "$MONGO_INITDB_ROOT_USERNAME" "$MONGO_INITDB_ROOT_PASSWORD" >"$users"
  set -- "$@" --users-file "$users"
  auth=1
fi
[ -z "$auth" ] || set -- "$@" --auth
exec /usr/local/bin/mongo-sim "$@"
