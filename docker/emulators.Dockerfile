# TEST-ONLY images of the emulators (sims/), for the engine suite (tests/engine) and
# compose/emulated.yaml. Never shipped. Built by scripts/images from a context it lays out
# (no registry needed):
#   rootfs/            a static busybox, the machine's node binary and the shared libraries it
#                      and the (debug, dynamic) emulators load
#   bin/               mongo-sim, rc-sim (target/debug), mongo-rs-probe (`cargo dist`)
#   emulators/         the entrypoints below
# Each image takes the interface of the image it stands in for (entrypoint, variables, paths),
# so that compose/emulated.yaml swaps only `image:`.

FROM scratch AS base
COPY rootfs/ /

# Stands in for the mongo image (docker/mongo.Dockerfile): `mongod ...` arguments and the
# official entrypoint's MONGO_INITDB_ROOT_* variables, translated to mongo-sim flags;
# mongo-rs-probe at the same path and with the same HEALTHCHECK as the production image.
FROM base AS mongo-sim
COPY bin/mongo-sim /usr/local/bin/mongo-sim
COPY bin/mongo-rs-probe /usr/local/bin/mongo-rs-probe
COPY emulators/mongod-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
COPY emulators/mongo-keyfile.sh /usr/local/bin/coquelicot-entrypoint.sh
# The member's name inside the compose network (the service name): mongo-sim matches member
# hosts by name where mongod resolves them and compares its own addresses (isSelf).
ENV MONGO_SIM_MEMBER=mongo:27017
# The official image's mongodb user (uid 999) and its volume paths. USER by uid only: with
# "999:999" Docker 20.10 fails to copy Compose's secrets in ("getent unable to find entry").
RUN mkdir -p /data/db /data/configdb && chown -R 999:999 /data && chmod 1777 /tmp
USER 999
VOLUME ["/data/db", "/data/configdb"]
EXPOSE 27017
ENTRYPOINT ["/usr/local/bin/coquelicot-entrypoint.sh"]
CMD ["mongod"]
HEALTHCHECK --interval=5s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/mongo-rs-probe", "--timeout", "3s"]

# Stands in for the Rocket.Chat image: PORT, ROOT_URL, ADMIN_*, OVERWRITE_SETTING_* variables;
# node for the incoming-webhook scripts rc-sim runs.
FROM base AS rc-sim
COPY bin/rc-sim /usr/local/bin/rc-sim
COPY emulators/rocketchat-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
COPY emulators/main.js /app/bundle/main.js
# As in the Rocket.Chat image: `node main.js` in /app/bundle, uploads in /app/uploads, user
# rocketchat (uid 65533; by uid only, see the mongo-sim stage).
WORKDIR /app/bundle
RUN mkdir -p /app/uploads && chown 65533:65533 /app/uploads && chmod 1777 /tmp
USER 65533
EXPOSE 3000
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]

