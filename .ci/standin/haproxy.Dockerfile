# Stand-in for haproxy: Debian's HAProxy (2.6), run as its own user as the official image is.
ARG BASE
FROM ${BASE}
# Stand-ins take whatever the machine's Debian mirror serves for bookworm; pinning
# versions would break on every point release and buys nothing for a CI-only image.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends haproxy \
 && rm -rf /var/lib/apt/lists/*
# hadolint ignore=DL3066
USER haproxy
CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
