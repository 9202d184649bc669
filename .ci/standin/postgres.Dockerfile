# Stand-in for postgres: Debian's PostgreSQL with the official image's entrypoint contract
# (POSTGRES_PASSWORD, /docker-entrypoint-initdb.d, data in /var/lib/postgresql/data).
ARG BASE
FROM ${BASE}
# The socket directory has the official image's mode (3777): compose mounts a tmpfs there,
# Docker gives that tmpfs the directory's mode, and postgres (not root) must write in it.
# Stand-ins take whatever the machine's Debian mirror serves for bookworm; pinning
# versions would break on every point release and buys nothing for a CI-only image.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /docker-entrypoint-initdb.d /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
 && chmod 3777 /var/run/postgresql
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PGDATA=/var/lib/postgresql/data PATH=/usr/lib/postgresql/15/bin:$PATH
# The official image runs postgres as this user too.
# hadolint ignore=DL3066
USER postgres
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["postgres"]
