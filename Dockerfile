# syntax=docker/dockerfile:1
#
# refsync in a container: build with the Rust toolchain, run on a slim Debian with only
# the CA certificates the HTTPS client needs, as a non-root user.
#
#   docker build -t refsync .
#   docker run --rm refsync sync samples/updates.csv --emulator      # exits 4: the sample has mistakes
#
# Both stages are Debian 12 (bookworm), so the binary finds the same glibc it was built
# against. See docs/scheduling.md for a Kubernetes CronJob that runs this image.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target folders are cache mounts: a rebuild after a source change
# recompiles refsync only. The binary is copied out within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
 && install -m 0755 target/release/refsync /usr/local/bin/refsync

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# A fixed UID/GID, so that Kubernetes' runAsUser/fsGroup and file ownership on volumes
# can name it.
RUN groupadd --system --gid 10001 refsync \
 && useradd --system --uid 10001 --gid refsync --home-dir /var/lib/refsync --create-home \
        --shell /usr/sbin/nologin refsync
COPY --from=build /usr/local/bin/refsync /usr/local/bin/refsync
# The samples, so that `docker run IMAGE sync samples/updates.csv --emulator` works.
COPY --from=build --chown=refsync:refsync /src/samples /var/lib/refsync/samples
USER 10001:10001
WORKDIR /var/lib/refsync
ENTRYPOINT ["refsync"]
CMD ["--help"]
