#!/usr/bin/env bash
# A test of the README itself: what a new user gets from `git clone`, alone in an empty
# directory, runs the README's main command (scripts/demo) to its end, the GitLab push
# delivered into the room (the demo fails otherwise).
#
# What is cloned is the committed HEAD of this repository: uncommitted changes are not in the
# clone, on purpose (a user never gets them). Nothing is beside the clone: no ../shared, no
# sibling checkout; the variables that could point outside it are unset.
#
# Build cache: the clone reuses the caller's CARGO_TARGET_DIR (default <repo>/target), so only
# the workspace crates are recompiled (their sources are new files), not the registry crates.
# Cargo fingerprints path crates by their path relative to the workspace root, so the clone's
# artifacts replace the caller's; that is harmless only when the caller's tree is HEAD. With
# uncommitted changes to tracked files the clone builds in <target>/fresh-clone instead (cold
# the first time, then incremental), so it never leaves HEAD's binaries where the caller's
# modified sources would look fresh. FRESH_CLONE_TARGET_DIR forces a directory.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
head=$(git -C "$root" rev-parse --verify HEAD)
caller_target=$(realpath -m "${CARGO_TARGET_DIR:-$root/target}")
if [ -n "${FRESH_CLONE_TARGET_DIR:-}" ]; then
  target=$(realpath -m "$FRESH_CLONE_TARGET_DIR")
elif [ -z "$(git -C "$root" status --porcelain --untracked-files=no)" ]; then
  target=$caller_target
else
  target=$caller_target/fresh-clone
  echo "fresh-clone: uncommitted changes in $root; building the clone in $target" >&2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coquelicot-fresh-clone.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
git clone --quiet --no-hardlinks "$root" "$tmp/coquelicot"
git -C "$tmp/coquelicot" checkout --quiet --detach "$head"
if [ "$(ls -A "$tmp")" != coquelicot ]; then
  echo "fresh-clone: $tmp holds more than the clone" >&2
  exit 1
fi

echo "fresh-clone: $head in $tmp/coquelicot (CARGO_TARGET_DIR=$target)"
start=$(date +%s)
set +e
(
  cd "$tmp/coquelicot"
  env -u GITLAB_FIXTURES -u MONGO_SIM_BIN -u RC_SIM_BIN CARGO_TARGET_DIR="$target" scripts/demo
) 2>&1 | tee "$tmp/demo.log"
status=${PIPESTATUS[0]}
set -e
echo "fresh-clone: scripts/demo exited $status after $(($(date +%s) - start)) s"
[ "$status" -eq 0 ] || exit 1
# The demo's last check already failed unless the bot posted the push; say it here too.
grep -q '^posted by hubot : .* pushed ' "$tmp/demo.log" || {
  echo "fresh-clone: the GitLab push did not reach the room" >&2
  exit 1
}
