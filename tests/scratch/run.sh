#!/usr/bin/env bash
# The shipped binaries must run FROM scratch: static, in an empty root holding only what a
# scratch container has (/etc/hosts, /etc/resolv.conf, /dev/null, /dev/urandom, an empty /tmp),
# and resolve a service name through /etc/hosts. This builds them with `cargo dist`, lays such a
# root, and runs the whole welder/diver sequence inside it (chroot shares the host's loopback)
# against the emulators running outside.
set -euo pipefail
cd "$(dirname "$0")/../.."

passed=0
failed=0
check() { # check NAME EXPECTED_EXIT CMD...
  local name=$1 want=$2
  shift 2
  local got=0
  "$@" >"$work/out" 2>&1 || got=$?
  if [ "$got" -eq "$want" ]; then
    passed=$((passed + 1))
    echo "ok: $name"
  else
    failed=$((failed + 1))
    echo "FAILED: $name (exit $got, wanted $want):"
    sed 's/^/    /' "$work/out"
  fi
}

if [ "$(id -u)" -ne 0 ]; then
  echo "tests/scratch/run.sh needs root (chroot, mknod): run it as root or in CI" >&2
  exit 1
fi

cargo dist --locked -q
cargo build --locked -q -p mongo-sim -p rc-sim -p k8s-sim
target=${CARGO_TARGET_DIR:-target}
dist=$target/x86_64-unknown-linux-gnu/release
bins=(mongo-rs-init mongo-rs-probe rc-bootstrap rc-probe mongo-rs-follow)

work=$(mktemp -d)
sims=()
cleanup() {
  for pid in "${sims[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

root=$work/root
mkdir -p "$root/etc" "$root/dev" "$root/tmp" "$root/out"
chmod 1777 "$root/tmp"
printf '127.0.0.1 localhost\n127.0.0.1 mongo.test rc.test mongo-0.test\n' >"$root/etc/hosts"
printf 'nameserver 127.0.0.1\n' >"$root/etc/resolv.conf"
mknod -m 666 "$root/dev/null" c 1 3
mknod -m 444 "$root/dev/urandom" c 1 9

for b in "${bins[@]}"; do
  cp "$dist/$b" "$root/$b"
  # Static: no program interpreter, so nothing for the kernel to load from the (empty) root.
  check "$b is statically linked" 0 bash -c "! readelf -l '$root/$b' | grep -q 'program interpreter'"
  size=$(stat -c %s "$root/$b")
  check "$b is at most 5 MB ($size bytes)" 0 test "$size" -le 5000000
  check "$b --help runs in the empty root" 0 chroot "$root" "/$b" --help
done

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_line() { # wait_line FILE NEEDLE
  for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "no '$2' in $1" >&2
  return 1
}

# MongoDB: the member is known as mongo.test inside the "network", as a compose service name is.
mport=$(port)
"$target"/debug/mongo-sim --repl-set rs0 --member "mongo.test:$mport=127.0.0.1:$mport" >"$work/mongo.log" &
sims+=($!)
wait_line "$work/mongo.log" "Waiting for connections"
check "mongo-rs-probe reports 'not initiated' before init" 1 chroot "$root" /mongo-rs-probe --uri "mongodb://mongo.test:$mport"
check "mongo-rs-init initiates through /etc/hosts" 0 chroot "$root" /mongo-rs-init --uri "mongodb://mongo.test:$mport" --replica-set rs0 --timeout 30s
check "mongo-rs-probe: writable PRIMARY" 0 chroot "$root" /mongo-rs-probe --uri "mongodb://mongo.test:$mport"

# Rocket.Chat: first-start admin from the environment, as the real container does.
rport=$(port)
ADMIN_USERNAME=boss ADMIN_PASS='Adm1n-pass-for-tests!' ADMIN_EMAIL=boss@example.org \
  "$target"/debug/rc-sim --port "$rport" >"$work/rc.log" &
sims+=($!)
wait_line "$work/rc.log" '"listening"'
printf 'Adm1n-pass-for-tests!\n' >"$root/tmp/admin-pass"
printf 'B0t-pass-for-tests-ok!\n' >"$root/tmp/bot-pass"
check "rc-bootstrap through /etc/hosts" 0 chroot "$root" /rc-bootstrap --url "http://rc.test:$rport" \
  --admin-username boss --admin-password-file /tmp/admin-pass \
  --bot-username hubot --bot-password-file /tmp/bot-pass --room ops --webhook-url-file /out/webhook-url --timeout 60s
check "webhook URL published" 0 grep -q "/hooks/" "$root/out/webhook-url"
check "rc-probe: bot can post" 0 chroot "$root" /rc-probe --url "http://rc.test:$rport" \
  --user hubot --password-file /tmp/bot-pass --room ops --token-cache /tmp/rc-probe.token --presence off
# TLS needs bundled roots in a root without a CA bundle: a TLS handshake against a plain-HTTP
# port must fail as a clear "unavailable" (exit 1), not a panic or "no root certificates".
check "rc-probe over https without a system CA bundle fails cleanly" 1 chroot "$root" /rc-probe \
  --url "https://rc.test:$rport" --user hubot --password-file /tmp/bot-pass --room ops --timeout 2s

# Kubernetes: mongo-rs-follow reads the StatefulSet over TLS trusting only the CA it is given
# (the root has no CA bundle), then initiates the one-member set the StatefulSet names.
fport=$(port)
"$target"/debug/mongo-sim --repl-set rs0 --member "mongo-0.test:$fport=127.0.0.1:$fport" >"$work/mongo-follow.log" &
sims+=($!)
wait_line "$work/mongo-follow.log" "Waiting for connections"
printf 'scratch-token\n' >"$root/tmp/k8s-token"
printf '1' >"$work/replicas"
"$target"/debug/k8s-sim --ca-out "$root/tmp/k8s-ca.crt" --token-file "$root/tmp/k8s-token" \
  --replicas-file "$work/replicas" --namespace chat >"$work/k8s.log" &
sims+=($!)
wait_line "$work/k8s.log" '"listening"'
kport=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$work/k8s.log" | head -1)
check "mongo-rs-follow: Kubernetes API over TLS with the cluster CA, initiates the set" 0 chroot "$root" \
  /mongo-rs-follow --once --timeout 30s --api-server "https://127.0.0.1:$kport" --namespace chat \
  --token-file /tmp/k8s-token --ca-file /tmp/k8s-ca.crt --replica-set rs0 --member-host "{pod}.test:$fport"
check "mongo-rs-probe: the followed set has a writable PRIMARY" 0 chroot "$root" /mongo-rs-probe --uri "mongodb://mongo-0.test:$fport"

echo "scratch: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
