# Stand-in for redis: Debian's redis-server, started the way the official image starts it.
ARG BASE
FROM ${BASE}
# Stand-ins take whatever the machine's Debian mirror serves for bookworm; pinning
# versions would break on every point release and buys nothing for a CI-only image.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
WORKDIR /data
# The official image runs as redis too.
# hadolint ignore=DL3066
USER redis
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no"]
