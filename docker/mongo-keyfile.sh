#!/bin/sh
# Entry point of the mongo images (docker/mongo.Dockerfile, and the test-only mongo-sim image),
# run before the official docker-entrypoint.sh: puts the replica-set key file where mongod
# accepts it. mongod (src/mongo/db/auth/security_file.cpp) refuses a key file readable by group
# or others, and reads it as its own user (mongodb, uid 999, after the entrypoint's gosu). What
# Compose gives instead (seen on Docker 20.10 + Compose 2.26): an environment-sourced secret is
# written 0444, owned by the container's user (root in the official image); `uid`/`gid`/`mode`
# on a service's secret are ignored outside Swarm; a file-sourced secret is a bind mount that
# keeps the host file's owner and mode.
#
# MONGO_KEYFILE_FILE=/run/secrets/mongo_keyfile: copied to /tmp/mongo-keyfile/keyfile, 0400,
# owned by 999 (by the current user when not root), and `--keyFile` that copy is added to a
# mongod command line that has none.
set -eu
if [ -n "${MONGO_KEYFILE_FILE:-}" ]; then
  src=$MONGO_KEYFILE_FILE dir=/tmp/mongo-keyfile
  [ -r "$src" ] || { echo "coquelicot mongo: cannot read MONGO_KEYFILE_FILE=$src" >&2; exit 1; }
  mkdir -p "$dir"
  chmod 0700 "$dir"
  cp "$src" "$dir/keyfile.new"
  chmod 0400 "$dir/keyfile.new"
  if [ "$(id -u)" = 0 ]; then
    chown 999:999 "$dir" "$dir/keyfile.new"
  fi
  mv -f "$dir/keyfile.new" "$dir/keyfile"
  case "${1:-mongod}" in
    -*) set -- mongod "$@" ;;
  esac
  if [ "${1:-mongod}" = mongod ]; then
    [ $# -gt 0 ] || set -- mongod
    case " $* " in
      *" --keyFile "* | *" --keyFile="*) ;;
      *) set -- "$@" --keyFile "$dir/keyfile" ;;
    esac
  fi
fi
exec /usr/local/bin/docker-entrypoint.sh "$@"
