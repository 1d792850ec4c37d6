"""Finding 8 (issue 8): the documented production start starts.

As docs/deployment.md says, in a fresh environment: `flask --app network db upgrade`, then
`gunicorn -c gunicorn.conf.py wsgi:app` with SECRET_KEY and DATABASE_URL set; the page must come.
On a temporary SQLite file always, on PostgreSQL when TEST_DATABASE_URL points at one.
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

import pytest

from config import BASE_DIR

BIN = Path(sys.executable).parent
BOOT_SECONDS = 90  # two workers each load the gazetteer (a few seconds on a busy machine)
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(tmp_path: Path, database_url: str, port: int) -> dict[str, str]:
    """The operator's environment: the two secrets, gunicorn's settings, nothing of the test run's."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("SECRET_KEY", "DATABASE_URL", "TEST_DATABASE_URL", "REDIS_URL", "NOMINATIM_URL")
           and not key.startswith("GUNICORN_")}
    instance = tmp_path / "instance"
    env.update(SECRET_KEY="ein-langer-geheimer-produktionsschluessel", DATABASE_URL=database_url,
               PARTNERNETZ_INSTANCE=str(instance), GEOCODE_CACHE_PATH=str(instance / "geocode_cache.sqlite"),
               GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="2", GUNICORN_TIMEOUT="30")
    return env


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback, our own server)
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def _start_gunicorn(env: dict[str, str], log: Path) -> subprocess.Popen:
    """The documented command, from the repository root, in its own process group (master and workers)."""
    with log.open("wb") as out:
        return subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=BASE_DIR,
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # the group we started: gunicorn's master and its workers
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _serve_and_fetch_the_start_page(tmp_path: Path, database_url: str) -> None:
    port = _free_port()
    env = _environment(tmp_path, database_url, port)
    upgrade = subprocess.run([str(BIN / "flask"), "--app", "network", "db", "upgrade"], cwd=BASE_DIR, env=env,
                             capture_output=True, text=True, timeout=180)
    assert upgrade.returncode == 0, upgrade.stderr[-3000:]
    log = tmp_path / "gunicorn.log"
    process = _start_gunicorn(env, log)
    try:
        deadline = time.monotonic() + BOOT_SECONDS
        status, page = 0, ""
        while time.monotonic() < deadline:
            assert process.poll() is None, f"gunicorn exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            try:
                status, page = _get(f"http://127.0.0.1:{port}/")
                break
            except OSError:  # not listening yet
                time.sleep(0.3)
        assert status == 200, f"no page within {BOOT_SECONDS} s (last status {status}):\n{log.read_text()[-3000:]}"
        assert "Expertinnen und Experten in Ihrer Nähe" in page and "Umkreis" in page
        # The production settings are in force: the geocoder caps its input behind gunicorn too.
        status, _body = _get(f"http://127.0.0.1:{port}/api/geocode?q=" + "x" * 300)
        assert status == 400
    finally:
        _stop(process)
    assert process.returncode is not None


def test_documented_production_start_serves_the_start_page_on_sqlite(tmp_path):
    _serve_and_fetch_the_start_page(tmp_path, f"sqlite:///{tmp_path / 'partnernetz.sqlite'}")


@pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"),
                    reason="needs TEST_DATABASE_URL=postgresql+psycopg://… (runs on the PostgreSQL leg of .ci/run)")
def test_documented_production_start_serves_the_start_page_on_postgresql(tmp_path):
    # The session's test database: `db upgrade` is a no-op when the suite has built the schema already.
    _serve_and_fetch_the_start_page(tmp_path, TEST_DATABASE_URL)


def test_production_start_refuses_without_secret_key(tmp_path):
    env = _environment(tmp_path, f"sqlite:///{tmp_path / 'partnernetz.sqlite'}", _free_port())
    del env["SECRET_KEY"]
    log = tmp_path / "gunicorn.log"
    process = _start_gunicorn(env, log)
    try:
        process.wait(timeout=BOOT_SECONDS)
    finally:
        _stop(process)
    assert process.returncode != 0
    assert "ProductionConfig needs the environment variables: SECRET_KEY" in log.read_text()
