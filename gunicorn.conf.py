"""gunicorn settings for `gunicorn -c gunicorn.conf.py wsgi:app`; the values come from config.py (environment first)."""
from config import Config

_settings = Config.settings()  # read now, from the environment, like the app's own settings

# Loopback by default: the reverse proxy in front terminates TLS (docs/deployment.md).
bind = _settings["GUNICORN_BIND"]
workers = _settings["GUNICORN_WORKERS"]
threads = _settings["GUNICORN_THREADS"]
# A worker stuck this long on one request is killed and replaced; no request of ours needs more than a few seconds.
timeout = _settings["GUNICORN_TIMEOUT"]
graceful_timeout = _settings["GUNICORN_TIMEOUT"]
# Behind a proxy that keeps connections open; short, so idle connections do not hold sync workers.
keepalive = 5
# gunicorn's defaults, stated because they are part of the defence: a request line over 4094 bytes
# (e.g. a 10 KB query string) is refused (414) before the app sees it, and more than 100 headers (431).
limit_request_line = 4094
limit_request_fields = 100
# gunicorn 27's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl), which a second
# instance on the host (staging, a test run) would take over; nothing here uses it.
control_socket_disable = True
