# The image of every service of the stack: the same runtime, one package and port each.
# Build from the repository root (the shared package installs from it), naming the
# service; compose passes the same arguments (docker-compose.yml), from deploy/services.toml:
#   docker build --build-arg SERVICE=users_service --build-arg PORT=8002 -t jwt-stack/users_service .
# STATE_DIR is a directory the service writes and a volume is mounted on (auth_service:
# its signing keys): made here, so that a fresh volume takes its owner and mode.
# PYTHON_IMAGE is any Debian-based Python 3.11+ image; the default is the public one.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/venv
COPY requirements.txt /src/requirements.txt
# Binary wheels only: the final image needs no compiler, and neither does this stage.
RUN /opt/venv/bin/pip install --only-binary=:all: -r /src/requirements.txt
COPY shared /src/shared
RUN /opt/venv/bin/pip install --no-deps /src/shared

FROM ${PYTHON_IMAGE}
ARG SERVICE
ARG PORT
ARG STATE_DIR=
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PATH=/opt/venv/bin:$PATH SERVICE=${SERVICE} PORT=${PORT}
# A build that names no service or port stops here, not at the first start.
RUN : "${SERVICE:?build with --build-arg SERVICE=<its package>}" "${PORT:?build with --build-arg PORT=<its port>}" \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app \
 && if [ -n "$STATE_DIR" ]; then install -d -o app -m 700 "$STATE_DIR"; fi
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY ${SERVICE} /app/${SERVICE}
USER 10001
EXPOSE ${PORT}
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=5 \
  CMD ["python3", "-c", "import os, sys, urllib.request as u; sys.exit(u.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/readyz', timeout=2).status != 200)"]
# sh only to name the package; exec leaves gunicorn as PID 1, where stop signals arrive.
CMD ["sh", "-c", "exec gunicorn --config \"$SERVICE/gunicorn.conf.py\" \"$SERVICE:create_app()\""]
