"""gunicorn settings of bench/bare_app.py: the services' process model, without their logging.

The same workers, threads (WEB_CONCURRENCY, GUNICORN_THREADS), worker class, keep-alive,
preloading and timeouts as every service (secure_service.gunicorn_config). Not their
JSON access log: a bare Flask app under gunicorn has none, and what the services' access
log costs is part of what the bench compares them with this app to find.
"""

import os

from secure_service.gunicorn_config import *  # noqa: F403

proc_name = "bare_app"
bind = [f"127.0.0.1:{os.environ['PORT']}"]
accesslog = None
logger_class = "gunicorn.glogging.Logger"
