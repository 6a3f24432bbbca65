# syntax=docker/dockerfile:1
#
# The Rocket.Chat Hubot image plus rc-probe as its HEALTHCHECK. From the repository root:
#
#   docker build -f docker/hubot.Dockerfile -t coquelicot/hubot .
#
# rc-probe reads Hubot's own variables (ROCKETCHAT_URL, ROCKETCHAT_USER, ROCKETCHAT_PASSWORD,
# ROCKETCHAT_ROOM), so the container's one environment serves the bot and its probe.
# Compiled here from source for the same reason as docker/mongo.Dockerfile.

ARG RUST_IMAGE=rust:1-bookworm
# Upstream publishes no maintained version tags; pin a digest (HUBOT_IMAGE=...@sha256:...) in
# production.
ARG HUBOT_IMAGE=rocketchat/hubot-rocketchat:latest

FROM --platform=linux/amd64 ${RUST_IMAGE} AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,sharing=locked \
    RUSTFLAGS="-C target-feature=+crt-static" \
      cargo build --release --locked --target x86_64-unknown-linux-gnu -p rc-probe \
 && install -D -m 0755 target/x86_64-unknown-linux-gnu/release/rc-probe /out/rc-probe

FROM --platform=linux/amd64 ${HUBOT_IMAGE}
# Where the sources live: passed by the release build (--build-arg SOURCE_URL=...).
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="coquelicot hubot" \
      org.opencontainers.image.description="Hubot for Rocket.Chat with rc-probe as HEALTHCHECK: healthy only when the bot can log in, its room exists, it is a member and may post" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/rc-probe /usr/local/bin/rc-probe
# No USER here: the upstream image's own user is kept (its scripts and node_modules belong to it).
# The image has a writable /tmp, where rc-probe caches its auth token (RC_PROBE_TOKEN_CACHE):
# without the cache every check would be a fresh login, and Rocket.Chat rate-limits logins.
#   --interval=30s     each check is up to 4 REST calls to Rocket.Chat; the bot's health changes
#                      rarely (a password or room changed by hand), so 30s is plenty. Compose's
#                      service_healthy (gitlab) waits for the first healthy result only.
#   --timeout=10s      above the probe's --timeout 8s, which bounds all its requests together: a
#                      busy Rocket.Chat answers login in a few seconds.
#   --start-period=90s Hubot connects only after rc-bootstrap has finished, but the first login
#                      and the room join of a cold Rocket.Chat can take a while.
#   --retries=3        one slow answer is not an outage; 3 x 30s of failures is.
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s --retries=3 \
  CMD ["/usr/local/bin/rc-probe", "--timeout", "8s"]
