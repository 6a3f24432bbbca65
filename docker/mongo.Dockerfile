# The official MongoDB image plus mongo-rs-probe as its HEALTHCHECK. From the repository root:
#
#   docker build -f docker/mongo.Dockerfile -t coquelicot/mongo:8.0 .
#
# The probe is compiled here from source (same recipe as docker/Dockerfile) rather than copied
# from a separately built coquelicot/mongo-rs-probe image: Compose builds services in parallel
# and would otherwise try to pull that image before building it.

ARG RUST_IMAGE=rust:1-bookworm
ARG MONGO_IMAGE=mongo:8.0

FROM --platform=linux/amd64 ${RUST_IMAGE} AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,sharing=locked \
    RUSTFLAGS="-C target-feature=+crt-static" \
      cargo build --release --locked --target x86_64-unknown-linux-gnu -p mongo-rs-probe \
 && install -D -m 0755 target/x86_64-unknown-linux-gnu/release/mongo-rs-probe /out/mongo-rs-probe

FROM --platform=linux/amd64 ${MONGO_IMAGE}
# Where the sources live: passed by the release build (--build-arg SOURCE_URL=...).
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="coquelicot mongo" \
      org.opencontainers.image.description="MongoDB with mongo-rs-probe as HEALTHCHECK: healthy only when this member is a writable PRIMARY" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/mongo-rs-probe /usr/local/bin/mongo-rs-probe
# MONGO_KEYFILE_FILE (compose/mongo-auth.yaml): the key file installed 0400 for mongod, then
# the official entrypoint (reasons in the script). A new ENTRYPOINT resets CMD: set it again.
COPY docker/mongo-keyfile.sh /usr/local/bin/coquelicot-entrypoint.sh
ENTRYPOINT ["/usr/local/bin/coquelicot-entrypoint.sh"]
CMD ["mongod"]
# No USER here on purpose: the official entrypoint starts as root only to chown /data/db on a
# fresh volume, then drops to the `mongodb` user with gosu before exec'ing mongod.
#
# The probe connects to mongodb://localhost:27017 by default and exits 0 only when this member
# is a writable PRIMARY (a SECONDARY with --allow-secondary). Unlike the seed's shell script,
# which ended in `exit 0` on both branches, "healthy" therefore means "Rocket.Chat can write".
#   --interval=5s      Compose's service_healthy waits for the FIRST healthy result: a short
#                      interval makes Rocket.Chat start within seconds of mongo-rs-init's
#                      replSetInitiate; one tiny static process every 5s costs nothing.
#   --timeout=5s       above the probe's own --timeout 3s (its default is 2s), so the probe
#                      always reports its one-line reason before Docker kills it; a loaded
#                      first start (journal pre-allocation) can make `hello` slow.
#   --start-period=60s mongod starts, then mongo-rs-init has to initiate the set and an election
#                      has to finish (electionTimeoutMillis defaults to 10s): failures in this
#                      window are expected and must not count towards `unhealthy`.
#   --retries=3        after the start period, 3 x 5s = 15s without a writable PRIMARY is a
#                      real outage (a single-member set has nobody to fail over to), not an
#                      election in progress.
HEALTHCHECK --interval=5s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/mongo-rs-probe", "--timeout", "3s"]
