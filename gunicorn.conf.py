"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py wsgi:app` (docs/operations.md, "Production").

Every value can be changed from the environment, so one file serves each instance behind the
proxy (deploy/run.sh starts two on different ports).

- GUNICORN_BIND (default 127.0.0.1:8000): loopback only; nginx is the public side.
- GUNICORN_WORKERS (default 2 x cores + 1, or WEB_CONCURRENCY): sync worker processes. Each
  request holds one worker from its first byte to its last, so nginx must buffer slow clients
  (deploy/nginx.conf does).
- GUNICORN_TIMEOUT (default 30 s): a worker silent for that long (a stuck request) is killed
  and replaced; its transaction dies with its connection, so nothing half-written stays.
- GUNICORN_MAX_REQUESTS (default 2000, with jitter): workers are recycled now and then, which
  caps the damage of any slow memory growth.
"""
from __future__ import annotations

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = _int("GUNICORN_WORKERS", _int("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count() + 1))
worker_class = "sync"
# Each worker imports the app and builds its own engine and connection pool: a pool created
# before fork would share sockets between processes.
preload_app = False

timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# nginx keeps connections to the client; between nginx and a sync worker one request per
# connection is the rule, so the keep-alive wait only matters to direct clients.
keepalive = 2

max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10

# Request-line and header limits (gunicorn's defaults, stated): the body is limited by the app
# (MAX_CONTENT_LENGTH, the API's per-endpoint limits) and by nginx's client_max_body_size.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# Access log off: the app writes one JSON line per request with its timing, user and request id
# (dashboard/request_log.py) to stderr, which lands in the error log below.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

# Only the local nginx may say which client and scheme a request came from.
forwarded_allow_ips = "127.0.0.1"
proc_name = os.environ.get("GUNICORN_PROC_NAME", "academy-dashboard")
# gunicorn >= 25 opens a control socket at one fixed path per user, which two instances on one
# machine would share; nothing here uses it (older versions ignore the setting).
control_socket_disable = True
