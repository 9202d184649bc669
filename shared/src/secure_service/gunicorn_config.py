"""gunicorn settings shared by every service; each service's gunicorn.conf.py adds its port.

Use: ``gunicorn -c <service>/gunicorn.conf.py '<service>:create_app()'``.
"""

import os

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# create_app() runs once in the master (settings checked, tables and keys created once),
# then the workers fork from it.
preload_app = True
timeout = 30
graceful_timeout = 10
keepalive = 5
# Tokens travel in a header; an oversized one must reach the app to get a JSON 401
# instead of gunicorn's plain-text 400.
limit_request_field_size = 131072
accesslog = "-"
errorlog = "-"
logger_class = "secure_service.gunicorn_logging.JsonAccessLogger"
