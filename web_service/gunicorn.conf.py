"""gunicorn configuration of web_service (the shared settings plus its address)."""

import os

from secure_service.gunicorn_config import *  # noqa: F403

proc_name = "web_service"
bind = [f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"]
