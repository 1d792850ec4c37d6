"""Finding 8 (issue 8): the documented production start starts.

As docs/deployment.md says, in a fresh environment: `flask --app network db upgrade`, then
`gunicorn -c gunicorn.conf.py wsgi:app` with SECRET_KEY and DATABASE_URL set; the page must come.
On a temporary SQLite file always, on PostgreSQL when TEST_DATABASE_URL points at one.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.production import LOOPBACK, flask, free_port, get, production_env, start, stop, wait_until_serving

BOOT_SECONDS = 90  # two workers each load the gazetteer (a few seconds on a busy machine)
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


def _serve_and_fetch_the_start_page(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    env = production_env(tmp_path / "instance", database_url, port, GUNICORN_WORKERS="2")
    upgrade = flask(env, "db", "upgrade", timeout=180)
    assert upgrade.returncode == 0, upgrade.stderr[-3000:]
    log = tmp_path / "gunicorn.log"
    process = start(env, log)
    try:
        status, page = wait_until_serving(process, f"http://{LOOPBACK}:{port}/", log, BOOT_SECONDS)
        assert status == 200, page[:2000]
        assert "Expertinnen und Experten in Ihrer Nähe" in page and "Umkreis" in page
        # The production app behind gunicorn caps geocoding input too.
        assert get(f"http://{LOOPBACK}:{port}/api/geocode?q=" + "x" * 300)[0] == 400
    finally:
        stop(process)
    assert process.returncode is not None


def test_documented_production_start_serves_the_start_page_on_sqlite(tmp_path):
    _serve_and_fetch_the_start_page(tmp_path, f"sqlite:///{tmp_path / 'partnernetz.sqlite'}")


@pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"),
                    reason="needs TEST_DATABASE_URL=postgresql+psycopg://… (runs on the PostgreSQL leg of .ci/run)")
def test_documented_production_start_serves_the_start_page_on_postgresql(tmp_path):
    # The session's test database: `db upgrade` is a no-op when the suite has built the schema already.
    _serve_and_fetch_the_start_page(tmp_path, TEST_DATABASE_URL)


def test_production_start_refuses_without_secret_key(tmp_path):
    env = production_env(tmp_path / "instance", f"sqlite:///{tmp_path / 'partnernetz.sqlite'}", free_port())
    del env["SECRET_KEY"]
    log = tmp_path / "gunicorn.log"
    process = start(env, log)
    try:
        process.wait(timeout=BOOT_SECONDS)
    finally:
        stop(process)
    assert process.returncode != 0
    assert "ProductionConfig needs the environment variables: SECRET_KEY" in log.read_text()
