"""gunicorn settings shared by every service; each service's gunicorn.conf.py adds its port.

Use: ``gunicorn -c <service>/gunicorn.conf.py '<service>:create_app()'``.
"""

import os
import tempfile

# prometheus-client's multiprocess mode: every worker writes its counters to this
# directory and /metrics adds them up. Chosen before the app (and prometheus-client) is
# imported, empty at each start.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="prometheus-"))

# Unset or empty (compose passes ${WEB_CONCURRENCY:-} through) means the default.
workers = int(os.environ.get("WEB_CONCURRENCY") or "2")
threads = int(os.environ.get("GUNICORN_THREADS") or "1")
# create_app() runs once in the master (settings checked, tables and keys created once),
# then the workers fork from it.
preload_app = True
timeout = 30
graceful_timeout = 10
keepalive = 5
# Tokens travel in a header; an oversized one must reach the app to get a JSON 401
# instead of gunicorn's plain-text 400.
limit_request_field_size = 131072
# No control socket (gunicorn 25's, for gunicornc): nothing here uses it, it would be one
# more way to change the workers at run time, and by default it lives in $HOME, which is
# read-only in the containers (an error at every start) and shared by every stack a
# developer runs with make dev.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
logger_class = "secure_service.gunicorn_logging.JsonAccessLogger"


def child_exit(server: object, worker: object) -> None:
    """Let /metrics forget the live gauges of a worker that exited."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined,no-untyped-call]
