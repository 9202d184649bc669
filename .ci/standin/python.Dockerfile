# Stand-in for python:3.x-slim: Debian's python3 with venv and pip, trusting this machine's CA.
ARG BASE
FROM ${BASE}
# Stand-ins take whatever the machine's Debian mirror serves for bookworm; pinning
# versions would break on every point release and buys nothing for a CI-only image.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-pip ca-certificates passwd \
 && rm -rf /var/lib/apt/lists/*
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
