# Stand-in for the server images of deploy/compose/compose.yaml (nats, redis, postgres) on
# machines that cannot pull them: Debian's packages on the same local base as the marketflow
# image. Built by `deploy/image/build.sh --servers` (context: deploy/image) and selected with
# MF_NATS_IMAGE, MF_REDIS_IMAGE and MF_POSTGRES_IMAGE. It accepts the part of the official
# images' interface that compose.yaml uses: a command line starting with nats-server,
# redis-server or postgres; POSTGRES_USER, POSTGRES_DB, POSTGRES_PASSWORD(_FILE) and PGDATA
# for the first start of PostgreSQL. Not for production: use the official images there.

FROM debian:bookworm-slim

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# No cluster at install time: the entrypoint creates PGDATA on the first start.
# hadolint ignore=DL3008
RUN mkdir -p /etc/postgresql-common \
 && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf \
 && apt-get update \
 && apt-get install -y --no-install-recommends nats-server redis-server postgresql-15 wget \
 && rm -rf /var/lib/apt/lists/*

ENV PATH=/usr/lib/postgresql/15/bin:$PATH
COPY servers-entrypoint.sh /usr/local/bin/servers-entrypoint.sh
ENTRYPOINT ["/usr/local/bin/servers-entrypoint.sh"]
# As the official postgres image: SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for
# every client to leave); nats-server and redis-server also stop cleanly on it.
STOPSIGNAL SIGINT
CMD ["nats-server"]
