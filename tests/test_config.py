"""Configuration: ProductionConfig refuses to start without its secrets; the development key is made once."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from config import BASE_DIR, Config, ProductionConfig
from network import create_app


def _isolated(base: type[Config], instance: Path) -> type[Config]:
    """base, with everything that would touch the disk inside instance (never the repository's instance folder)."""

    class Isolated(base):  # type: ignore[valid-type, misc]
        INSTANCE_PATH = str(instance)
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{instance / 'app.sqlite'}"
        GEOCODE_CACHE_PATH = str(instance / "geocode_cache.sqlite")

    if base is Config:
        Isolated.SECRET_KEY = None  # as without SECRET_KEY in the environment at import time
    return Isolated


@pytest.mark.parametrize("missing", [["SECRET_KEY"], ["DATABASE_URL"], ["SECRET_KEY", "DATABASE_URL"]])
def test_production_refuses_to_start_without_secret_key_or_database_url(tmp_path, monkeypatch, missing):
    monkeypatch.setenv("SECRET_KEY", "ein-langer-geheimer-schluessel")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.sqlite'}")
    for name in missing:
        monkeypatch.delenv(name)
    instance = tmp_path / "instance"
    with pytest.raises(RuntimeError) as excinfo:
        create_app(_isolated(ProductionConfig, instance))
    for name in missing:
        assert name in str(excinfo.value)
    # It refused before anything was written, not even a generated key.
    assert not (instance / "secret_key").exists()


def test_production_refuses_an_empty_secret_key(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.sqlite'}")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(_isolated(ProductionConfig, tmp_path / "instance"))


def test_production_starts_with_both_and_marks_the_session_cookie_secure(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "ein-langer-geheimer-schluessel")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.sqlite'}")
    app = create_app(_isolated(ProductionConfig, tmp_path / "instance"))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert not app.config.get("TESTING")


@pytest.mark.slow
def test_production_uses_the_environments_secret_key_and_database(tmp_path):
    """In a fresh interpreter, as a WSGI server would start it: the values come from the environment."""
    instance = tmp_path / "instance"
    database = tmp_path / "prod.sqlite"
    env = {key: value for key, value in os.environ.items()
           if key not in ("SECRET_KEY", "DATABASE_URL", "TEST_DATABASE_URL")}
    env.update(SECRET_KEY="schluessel-aus-der-umgebung", DATABASE_URL=f"sqlite:///{database}",
               PARTNERNETZ_INSTANCE=str(instance), GEOCODE_CACHE_PATH=str(instance / "geocode.sqlite"))
    script = (
        "from config import ProductionConfig\n"
        "from network import create_app\n"
        "app = create_app(ProductionConfig)\n"
        "print(app.config['SECRET_KEY'])\n"
        "print(app.config['SQLALCHEMY_DATABASE_URI'])\n"
        "print(app.config['SESSION_COOKIE_SECURE'])\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["schluessel-aus-der-umgebung", f"sqlite:///{database}", "True"]
    assert not (instance / "secret_key").exists()  # production never falls back to a generated key

    env.pop("SECRET_KEY")
    refused = subprocess.run([sys.executable, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode != 0 and "SECRET_KEY" in refused.stderr


def test_development_config_does_not_mark_the_cookie_secure(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = create_app(_isolated(Config, tmp_path / "instance"))
    assert not app.config.get("SESSION_COOKIE_SECURE")


def test_default_config_generates_the_secret_key_once_into_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    instance = tmp_path / "fresh-instance"
    config = _isolated(Config, instance)
    first = create_app(config)
    key_file = instance / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = first.config["SECRET_KEY"]
    assert key and len(key) >= 32 and key == key_file.read_text().strip()

    second = create_app(config)
    assert second.config["SECRET_KEY"] == key  # sessions survive a restart

    other = create_app(_isolated(Config, tmp_path / "another-instance"))
    assert other.config["SECRET_KEY"] != key  # each installation its own key
