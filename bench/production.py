"""The documented production start on loopback, for bench/abuse.py and tests/test_production_start.py.

`flask --app network db upgrade`, then `gunicorn -c gunicorn.conf.py wsgi:app` from the repository root,
in an environment holding only the operator's settings (docs/deployment.md).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"
# Settings of the machine running this that must not leak into the started server.
_NOT_INHERITED = ("SECRET_KEY", "DATABASE_URL", "TEST_DATABASE_URL", "REDIS_URL", "NOMINATIM_URL", "MAIL_SERVER")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def production_env(instance: Path, database_url: str, port: int, **settings: str) -> dict[str, str]:
    """The environment of a production start: the two secrets, an own instance folder, gunicorn on loopback."""
    env = {key: value for key, value in os.environ.items()
           if key not in _NOT_INHERITED and not key.startswith("GUNICORN_")}
    env.update(SECRET_KEY="ein-langer-geheimer-produktionsschluessel", DATABASE_URL=database_url,
               PARTNERNETZ_INSTANCE=str(instance), GEOCODE_CACHE_PATH=str(instance / "geocode_cache.sqlite"),
               GUNICORN_BIND=f"{LOOPBACK}:{port}")
    env.update(settings)
    return env


def flask(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`flask --app network <args>` as the operator runs it (db upgrade, seed-demo)."""
    return subprocess.run([str(BIN / "flask"), "--app", "network", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def start(env: dict[str, str], log: Path) -> subprocess.Popen:
    """gunicorn -c gunicorn.conf.py wsgi:app, in its own process group (master and workers stop together)."""
    with log.open("wb") as out:
        return subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def get(url: str, timeout: float = 30) -> tuple[int, str]:
    """Status and body; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback, our own server)
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def wait_until_serving(process: subprocess.Popen, url: str, log: Path, seconds: float) -> tuple[int, str]:
    """The first answer to GET url; AssertionError with gunicorn's log if it exits or stays silent."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            return get(url)
        except OSError:  # not listening yet
            time.sleep(0.3)
    raise AssertionError(f"no answer from {url} within {seconds:g} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the group started by start() (gunicorn's master and its workers), SIGKILL after 30 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
