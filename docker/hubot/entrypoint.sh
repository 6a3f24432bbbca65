#!/bin/sh
# Entrypoint of coquelicot's Hubot image (docker/hubot.Dockerfile): runs Hubot with the Rocket.Chat
# adapter and ends the container when the bot is not connected, so that the restart policy
# (Compose `restart: unless-stopped`) starts a fresh one. Docker itself never restarts a container
# for being unhealthy, and hubot-rocketchat 2.0.0 stays up logged out after a failed login, a
# connect timeout or a lost session (see docker/hubot/README.md).
#
# Watchdog: after HUBOT_WATCH_GRACE seconds (90), every HUBOT_WATCH_INTERVAL seconds (30) it runs
# rc-probe (the HEALTHCHECK: account, rooms, and Hubot's live connection); after
# HUBOT_WATCH_FAILURES failures in a row (3) it stops Hubot and exits 1. HUBOT_WATCH=off: only
# runs Hubot. Hubot exiting by itself ends the container with Hubot's exit code.
#
# Arguments are passed to hubot after `--adapter rocketchat --name NAME` (NAME: HUBOT_NAME, else
# BOT_NAME as in the upstream image, else ROCKETCHAT_USER).
set -u

name=${HUBOT_NAME:-${BOT_NAME:-${ROCKETCHAT_USER:-hubot}}}
grace=${HUBOT_WATCH_GRACE:-90}
interval=${HUBOT_WATCH_INTERVAL:-30}
limit=${HUBOT_WATCH_FAILURES:-3}
probe=${RC_PROBE:-rc-probe}

say() {
  echo "entrypoint: $*" >&2
}

for v in "$grace" "$interval" "$limit"; do
  case $v in
    ''|*[!0-9]*)
      say "HUBOT_WATCH_GRACE, HUBOT_WATCH_INTERVAL and HUBOT_WATCH_FAILURES are whole numbers of seconds/failures (got '$v')"
      exit 2
      ;;
  esac
done
[ "$interval" -ge 1 ] || interval=1
[ "$limit" -ge 1 ] || limit=1

hubot --adapter rocketchat --name "$name" "$@" &
child=$!

stop_child() {
  kill -TERM "$child" 2>/dev/null
  n=0
  while kill -0 "$child" 2>/dev/null && [ "$n" -lt 10 ]; do
    sleep 1
    n=$((n + 1))
  done
  kill -KILL "$child" 2>/dev/null
  wait "$child" 2>/dev/null
}

on_signal() {
  stop_child
  exit 0
}
trap on_signal TERM INT

# Sleeps $1 seconds, one at a time; returns 1 as soon as Hubot is gone.
nap() {
  i=0
  while [ "$i" -lt "$1" ]; do
    kill -0 "$child" 2>/dev/null || return 1
    sleep 1
    i=$((i + 1))
  done
  kill -0 "$child" 2>/dev/null
}

hubot_exited() {
  wait "$child"
  code=$?
  say "Hubot exited with code $code"
  exit "$code"
}

if [ "${HUBOT_WATCH:-on}" = "off" ]; then
  wait "$child"
  exit $?
fi

nap "$grace" || hubot_exited
failures=0
while :; do
  line=$("$probe" --timeout 8s 2>&1)
  rc=$?
  if [ "$rc" -eq 0 ]; then
    failures=0
  else
    failures=$((failures + 1))
    say "health check failed ($failures/$limit): $line"
    if [ "$failures" -ge "$limit" ]; then
      say "Hubot is not healthy: stopping it so that the restart policy starts it again"
      stop_child
      exit 1
    fi
  fi
  nap "$interval" || hubot_exited
done
