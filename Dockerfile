# syntax=docker/dockerfile:1
#
# One image for every marketflow service. Build from the repository root:
#
#   docker build -t marketflow:dev .
#
# Without Docker or a registry: deploy/image/build.sh (podman, base images from debootstrap).
#
# The Kubernetes manifests (deploy/k8s) pick the binary with `command:`; the image has no
# ENTRYPOINT. Binaries: marketflow-generator, marketflow-collector, marketflow-aggregator,
# marketflow-persister (--sink postgres | --sink redis), marketflow-api (--port 8080), and
# marketflow-healthz (a health check script for compose, deploy/compose).
# Database migrations are in /usr/share/marketflow/migrations.
#
# Linted offline by deploy/k8s/validate.sh; see docs/deploy.md.

ARG DEBIAN_SUITE=bookworm

# ---- build stage: full toolchain and the -dev packages -------------------------------------
FROM debian:${DEBIAN_SUITE} AS build

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential \
      cmake \
      pkg-config \
      libnats-dev \
      libulfius-dev \
      libmicrohttpd-dev \
      libjansson-dev \
      libhiredis-dev \
      libpq-dev \
      libinih-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Only what the build reads (see also .dockerignore): tests and deploy files stay out. The api
# embeds docs/openapi.json; the persister's install rule copies sql/migrations; service
# CMakeLists also build small benchmark helpers from bench/.
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY common/ common/
COPY services/ services/
COPY bench/ bench/
COPY docs/openapi.json docs/
COPY sql/migrations/ sql/migrations/

# Hardened release build; installed into a staging root that the runtime stage copies from.
RUN cmake -S . -B build \
      -DCMAKE_BUILD_TYPE=Release \
      -DMF_BUILD_TESTS=OFF \
      -DCMAKE_INSTALL_PREFIX=/usr/local \
      -DCMAKE_C_FLAGS="-fstack-protector-strong -D_FORTIFY_SOURCE=2" \
      -DCMAKE_EXE_LINKER_FLAGS="-Wl,-z,relro,-z,now" \
 && cmake --build build -j"$(nproc)" \
 && DESTDIR=/staging cmake --install build --strip \
 && test -x /staging/usr/local/bin/marketflow-api

# ---- runtime stage: only the shared libraries the binaries load ----------------------------
FROM debian:${DEBIAN_SUITE}-slim AS runtime

# The runtime halves of the -dev packages above (apt pulls their own dependencies, e.g.
# libssl3 for libnats). Keep this list in sync with the build stage; validate.sh checks that
# every library a built binary needs is provided by it.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libnats3.4 \
      libulfius2.7 \
      libmicrohttpd12 \
      libjansson4 \
      libhiredis0.14 \
      libpq5 \
      libinih1 \
 && rm -rf /var/lib/apt/lists/*

# A fixed numeric, unprivileged user: Kubernetes checks runAsNonRoot against the number.
RUN groupadd --system --gid 10001 marketflow \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin marketflow

COPY --from=build /staging/usr/local/bin/ /usr/local/bin/
# The health check of the compose file (GET /healthz on the metrics port, in bash).
COPY deploy/image/marketflow-healthz /usr/local/bin/marketflow-healthz
COPY sql/migrations/ /usr/share/marketflow/migrations/
# The persister applies these at start (it also looks there by default; stated for clarity).
ENV MARKETFLOW_PERSISTER_MIGRATIONS=/usr/share/marketflow/migrations

USER 10001:10001

# 8080: REST/WebSocket (api only). 9090: /metrics and /healthz (every service, when
# MARKETFLOW_METRICS_PORT=9090). 40201-40203: generator feeds.
EXPOSE 8080 9090 40201 40202 40203

CMD ["marketflow-api", "--port", "8080"]
