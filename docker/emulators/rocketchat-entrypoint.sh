#!/bin/sh
# TEST-ONLY: the Rocket.Chat image's interface in front of rc-sim. Rocket.Chat listens on PORT
# (all interfaces) and reads ROOT_URL, ADMIN_* and OVERWRITE_SETTING_* from the environment;
# rc-sim reads the last two itself.
set -eu
[ $# -eq 0 ] || exec "$@"
exec /usr/local/bin/rc-sim --port "${PORT:-3000}" --bind 0.0.0.0 \
  --version "${RC_SIM_VERSION:-8.1.0}" ${ROOT_URL:+--root-url "$ROOT_URL"} \
  --node /usr/local/bin/node
