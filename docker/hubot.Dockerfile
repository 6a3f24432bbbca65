# coquelicot's own Hubot for Rocket.Chat (the upstream rocketchat/hubot-rocketchat image is
# unpinned, runs adapter 1.0.x on Node 4 and `npm install`s its scripts at every start). From the
# repository root:
#
#   docker build -f docker/hubot.Dockerfile -t coquelicot/hubot .
#
# - Hubot 3.5.0 + hubot-rocketchat 2.0.0 (+ hubot-help 1.0.1), installed at build time with
#   `npm ci` from tests/hubot/v2's package-lock.json: exactly the set tests/hubot runs against
#   rc-sim (asteroid overridden to 0.6.1, the git dependency of the adapter cannot be fetched).
# - Runs as the base image's non-root `node` user; the bot's files belong to root (read-only).
# - rc-probe (static) as HEALTHCHECK: the bot account, its rooms AND Hubot's live connection.
# - Entrypoint docker/hubot/entrypoint.sh: ends the container when Hubot is up but not connected,
#   so `restart: unless-stopped` brings a fresh one (Docker never restarts an unhealthy
#   container). Variables: docker/hubot/README.md.
#
# Local scripts: mount plain .js/.coffee files at /home/node/bot/scripts, or build FROM this
# image and `npm install` more script packages (then list them in external-scripts.json).
#
# Where the parts come from is the ONLY thing that varies (same pattern as docker/Dockerfile):
#   BIN_FROM=builder      (default) rc-probe compiled here in a Rust image;
#   BIN_FROM=prebuilt     rc-probe from the context as bin/rc-probe (`cargo dist` output);
#   MODULES_FROM=npm      (default) `npm ci` here, in NODE_IMAGE, from the lockfile;
#   MODULES_FROM=prebuilt the bot's node_modules from the context (tests/hubot/v2/node_modules,
#                         installed elsewhere with the same `npm ci` from the same lockfile);
#   NODE_IMAGE            the Node 20 base. scripts/images builds all of it offline: prebuilt
#                         parts in a context it lays out, NODE_IMAGE=coquelicot/node-local (a
#                         busybox + the machine's node root filesystem).

ARG RUST_IMAGE=rust:1-bookworm
# Node 20 (what tests/hubot runs on); node:22-bookworm-slim works as well.
ARG NODE_IMAGE=node:20-bookworm-slim
ARG BIN_FROM=builder
ARG MODULES_FROM=npm

FROM --platform=linux/amd64 ${RUST_IMAGE} AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,sharing=locked \
    RUSTFLAGS="-C target-feature=+crt-static" \
      cargo build --release --locked --target x86_64-unknown-linux-gnu -p rc-probe \
 && install -D -m 0755 target/x86_64-unknown-linux-gnu/release/rc-probe /out/rc-probe

# rc-probe from the context (bin/rc-probe), compiled elsewhere.
FROM --platform=linux/amd64 scratch AS prebuilt
COPY bin/rc-probe /out/rc-probe

FROM ${BIN_FROM} AS bin

FROM --platform=linux/amd64 ${NODE_IMAGE} AS modules-npm
WORKDIR /bot
COPY tests/hubot/v2/package.json tests/hubot/v2/package-lock.json tests/hubot/v2/external-scripts.json ./
# --ignore-scripts: none of the pinned packages needs an install script (all pure JavaScript,
# which is also why a node_modules installed on another machine is the same tree).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# The same `npm ci --omit=dev --ignore-scripts` output, from the context.
FROM --platform=linux/amd64 scratch AS modules-prebuilt
COPY tests/hubot/v2/package.json tests/hubot/v2/package-lock.json tests/hubot/v2/external-scripts.json /bot/
COPY tests/hubot/v2/node_modules/ /bot/node_modules/

FROM modules-${MODULES_FROM} AS bot

FROM --platform=linux/amd64 ${NODE_IMAGE}
# Where the sources live: passed by the release build (--build-arg SOURCE_URL=...).
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="coquelicot hubot" \
      org.opencontainers.image.description="Hubot 3.5.0 + hubot-rocketchat 2.0.0 (pinned), restarted when not connected, with rc-probe as HEALTHCHECK: healthy only when the bot can log in, its rooms exist, it may post there and Hubot is connected" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=bot /bot /home/node/bot
# scripts/: where local scripts are mounted (empty in the image).
RUN mkdir -p /home/node/bot/scripts
COPY --from=bin /out/rc-probe /usr/local/bin/rc-probe
COPY --chmod=0755 docker/hubot/entrypoint.sh /usr/local/bin/hubot-entrypoint
ENV NODE_ENV=production \
    PATH=/home/node/bot/node_modules/.bin:$PATH \
    EXPRESS_PORT=8080
WORKDIR /home/node/bot
USER node
# /tmp (1777 in the base image) holds rc-probe's token cache (RC_PROBE_TOKEN_CACHE): without it
# every check would be a fresh login, and Rocket.Chat keeps only 50 tokens and rate-limits logins.
#   --interval=30s     each check is up to 5 REST calls (the last one: the bot's presence).
#   --timeout=10s      above the probe's --timeout 8s, which bounds all its requests together.
#   --start-period=90s Hubot connects after rc-bootstrap has finished; a cold Rocket.Chat is slow.
#   --retries=3        one slow answer is not an outage; 3 x 30s of failures is.
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s --retries=3 \
  CMD ["/usr/local/bin/rc-probe", "--timeout", "8s"]
ENTRYPOINT ["/usr/local/bin/hubot-entrypoint"]
