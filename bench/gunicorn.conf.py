"""gunicorn settings of bench/auth_cost_app.py: the services' shared settings and its port."""

import os

from secure_service.gunicorn_config import *  # noqa: F403

proc_name = "auth_cost_app"
bind = [f"127.0.0.1:{os.environ['PORT']}"]
