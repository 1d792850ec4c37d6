"""Tests for the geocoding service: offline answers, not-found errors, Nominatim against a real local HTTP server."""
from __future__ import annotations

import json
import multiprocessing
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from config import Config
from network.geo.gazetteer import Gazetteer
from network.geo.geocoding import GeocodeNotFound, Geocoder, GeocodeResult, make_geocoder, make_nominatim

ZOLLVEREIN = {"lat": "51.4862", "lon": "7.0446",
              "display_name": "Zeche Zollverein, Gelsenkirchener Straße, Essen, Nordrhein-Westfalen, Deutschland"}


@dataclass
class Hit:
    query: str
    params: dict[str, str]
    user_agent: str
    at: float


@dataclass
class LocalNominatim:
    """A real HTTP server on 127.0.0.1 answering /search in Nominatim's JSON format."""

    server: ThreadingHTTPServer
    hits: list[Hit] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def queries(self) -> list[str]:
        return [h.query for h in self.hits]


def _handler(state: list[LocalNominatim]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            query = params.get("q", "")
            state[0].hits.append(Hit(query, params, self.headers.get("User-Agent", ""), time.time()))
            if url.path != "/search":
                self._send(404, {"error": "not found"})
            elif "Kaputt" in query:
                self._send(500, {"error": "internal"})
            elif "Langsam" in query:
                time.sleep(1.5)
                self._send(200, [])
            elif "Zollverein" in query or "Zeche" in query:
                self._send(200, [dict(ZOLLVEREIN, place_id=1)])
            elif "Phoenix" in query:
                self._send(200, [{"lat": "51.4912", "lon": "7.5126", "display_name": "Phoenix-See, Dortmund"}])
            else:
                self._send(200, [])

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test): nothing left to answer

        def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
            pass

    return Handler


@pytest.fixture()
def nominatim() -> Iterator[LocalNominatim]:
    state: list[LocalNominatim] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.append(LocalNominatim(server))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def remote_geocoder(gazetteer: Gazetteer, server: LocalNominatim, cache: Path, **kwargs: float) -> Geocoder:
    remote = make_nominatim(server.url, user_agent="Partnernetz-Test/1.0 (test@example.org)", timeout=5)
    return Geocoder(gazetteer, remote=remote, cache_path=str(cache), **kwargs)


# --- offline -------------------------------------------------------------------------------------------


def test_offline_postcode_and_place(gazetteer: Gazetteer) -> None:
    geocoder = Geocoder(gazetteer)
    result = geocoder.geocode("58332")
    assert result == GeocodeResult(result.lat, result.lon, "58332 Schwelm", "gazetteer")
    assert abs(result.lat - 51.286) < 0.02 and abs(result.lon - 7.294) < 0.02
    assert geocoder.geocode("Luedenscheid").label == "Lüdenscheid, Nordrhein-Westfalen"
    assert geocoder.geocode("Hauptstraße 5, 58332 Schwelm").label == "58332 Schwelm"


def test_not_found_message_and_suggestions(gazetteer: Gazetteer) -> None:
    geocoder = Geocoder(gazetteer)
    with pytest.raises(GeocodeNotFound) as info:
        geocoder.geocode("Schwlm")
    assert info.value.code == "place.not_found" and str(info.value) == "place.not_found: Schwlm"
    assert info.value.query == "Schwlm"
    assert "Schwelm, Nordrhein-Westfalen" in info.value.suggestions


def test_not_found_without_suggestions(gazetteer: Gazetteer) -> None:
    with pytest.raises(GeocodeNotFound) as info:
        Geocoder(gazetteer).geocode("Qqqqqqqqqqqq")
    assert info.value.suggestions == []


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_empty_query(gazetteer: Gazetteer, query: str) -> None:
    with pytest.raises(GeocodeNotFound) as info:
        Geocoder(gazetteer).geocode(query)
    assert info.value.suggestions == []
    assert str(info.value).startswith("place.not_found:")


def test_not_found_survives_pickling() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(GeocodeNotFound("Schwlm", ["Schwelm, Nordrhein-Westfalen"])))
    assert error.query == "Schwlm" and error.suggestions == ["Schwelm, Nordrhein-Westfalen"]
    assert error.code == "place.not_found" and str(error) == "place.not_found: Schwlm"


def _settings(instance: Path, environ: dict[str, str]) -> dict:
    """The app's settings as config.py reads them from environ, with the instance folder in instance."""

    class Isolated(Config):
        INSTANCE_PATH = str(instance)

    return Isolated.settings(environ)


def test_default_config_is_offline(tmp_path: Path) -> None:
    for environ in ({}, {"NOMINATIM_URL": ""}):
        geocoder = make_geocoder(_settings(tmp_path, environ))
        assert geocoder.remote is None
        with pytest.raises(GeocodeNotFound):
            geocoder.geocode("Zeche Zollverein")
    assert list(tmp_path.iterdir()) == []  # no cache file, no lock file: nothing remote ever happened


def test_default_config_sends_nothing(tmp_path: Path, nominatim: LocalNominatim) -> None:
    # A server is listening, but without NOMINATIM_URL nobody may talk to it.
    geocoder = make_geocoder(_settings(tmp_path, {"GEOCODE_CACHE_PATH": str(tmp_path / "c.sqlite")}))
    with pytest.raises(GeocodeNotFound):
        geocoder.geocode("Zeche Zollverein")
    assert nominatim.hits == []


# --- Nominatim against a local server ------------------------------------------------------------------


def test_remote_only_for_what_the_gazetteer_cannot_resolve(
        gazetteer: Gazetteer, nominatim: LocalNominatim, tmp_path: Path) -> None:
    geocoder = remote_geocoder(gazetteer, nominatim, tmp_path / "cache.sqlite")
    for query in ("58332", "Schwelm", "Hauptstraße 5, 58332 Schwelm", "Muenster", "Dortmund Innenstadt"):
        assert geocoder.geocode(query).source == "gazetteer"
    assert nominatim.hits == []

    result = geocoder.geocode("Zeche Zollverein")
    assert result == GeocodeResult(51.4862, 7.0446, ZOLLVEREIN["display_name"], "nominatim")
    assert nominatim.queries() == ["Zeche Zollverein"]
    hit = nominatim.hits[0]
    assert hit.params["countrycodes"] == "de"
    assert hit.params["format"] == "json"
    assert hit.user_agent == "Partnernetz-Test/1.0 (test@example.org)"


def test_remote_result_is_cached_persistently(gazetteer: Gazetteer, nominatim: LocalNominatim, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    first = remote_geocoder(gazetteer, nominatim, cache).geocode("Zeche Zollverein")
    assert first.source == "nominatim"
    # Same key after normalisation: case, spacing and punctuation do not make a new request.
    again = remote_geocoder(gazetteer, nominatim, cache).geocode("  zeche   ZOLLVEREIN ")
    assert again == GeocodeResult(first.lat, first.lon, first.label, "cache")
    assert len(nominatim.hits) == 1
    with sqlite3.connect(cache) as con:
        assert con.execute("SELECT count(*) FROM geocode_cache WHERE found = 1").fetchone() == (1,)


def test_remote_miss_is_cached(gazetteer: Gazetteer, nominatim: LocalNominatim, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    with pytest.raises(GeocodeNotFound) as info:
        remote_geocoder(gazetteer, nominatim, cache).geocode("Gibtsnichtweg 7")
    assert info.value.code == "place.not_found" and str(info.value) == "place.not_found: Gibtsnichtweg 7"
    with pytest.raises(GeocodeNotFound):
        remote_geocoder(gazetteer, nominatim, cache).geocode("Gibtsnichtweg 7")
    assert nominatim.queries() == ["Gibtsnichtweg 7"]


@pytest.mark.slow
def test_rate_limit_one_request_per_second(gazetteer: Gazetteer, nominatim: LocalNominatim, tmp_path: Path) -> None:
    geocoder = remote_geocoder(gazetteer, nominatim, tmp_path / "cache.sqlite")
    geocoder.geocode("Zeche Zollverein")
    geocoder.geocode("Phoenix-See")
    with pytest.raises(GeocodeNotFound):
        geocoder.geocode("Gibtsnichtweg 7")
    times = [h.at for h in nominatim.hits]
    assert len(times) == 3
    gaps = [b - a for a, b in pairwise(times)]
    assert min(gaps) >= 1.0, gaps


def _geocode_in_child(url: str, cache: str, query: str) -> str:
    remote = make_nominatim(url, user_agent="Partnernetz-Test/1.0 (test@example.org)", timeout=5)
    try:
        return Geocoder(Gazetteer.default(), remote=remote, cache_path=cache).geocode(query).source
    except GeocodeNotFound:
        return "not found"


@pytest.mark.slow
def test_rate_limit_holds_across_processes(gazetteer: Gazetteer, nominatim: LocalNominatim, tmp_path: Path) -> None:
    # Like several gunicorn workers: separate processes, one cache file, one lock.
    cache = str(tmp_path / "cache.sqlite")
    queries = ["Zeche Zollverein", "Phoenix-See", "Gibtsnichtweg 7"]
    # spawn: fresh interpreters, as gunicorn workers are, and no fork of the server thread.
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        sources = pool.starmap(_geocode_in_child, [(nominatim.url, cache, q) for q in queries])
    assert sources == ["nominatim", "nominatim", "not found"]
    times = sorted(h.at for h in nominatim.hits)
    assert len(times) == 3
    assert min(b - a for a, b in pairwise(times)) >= 1.0, times


def test_server_error_is_not_found_and_not_cached(
        gazetteer: Gazetteer, nominatim: LocalNominatim, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    geocoder = remote_geocoder(gazetteer, nominatim, tmp_path / "cache.sqlite", min_delay_seconds=0.1)
    with pytest.raises(GeocodeNotFound) as info:
        geocoder.geocode("Kaputtstraße 1, Schwlm")
    assert info.value.code == "place.not_found" and str(info.value) == "place.not_found: Kaputtstraße 1, Schwlm"
    assert "Schwelm, Nordrhein-Westfalen" in info.value.suggestions
    assert any("Nominatim failed" in r.getMessage() for r in caplog.records)
    with pytest.raises(GeocodeNotFound):
        geocoder.geocode("Kaputtstraße 1, Schwlm")
    assert len(nominatim.hits) == 2  # the failure was not cached: asked again


def test_timeout_is_not_found(gazetteer: Gazetteer, nominatim: LocalNominatim, tmp_path: Path) -> None:
    remote = make_nominatim(nominatim.url, user_agent="Partnernetz-Test/1.0", timeout=0.3)
    geocoder = Geocoder(gazetteer, remote=remote, cache_path=str(tmp_path / "cache.sqlite"))
    started = time.monotonic()
    with pytest.raises(GeocodeNotFound):
        geocoder.geocode("Langsamer Weg 1")
    assert time.monotonic() - started < 1.4


def test_unreachable_server_is_not_found(gazetteer: Gazetteer, tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that nobody listens on any more
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    remote = make_nominatim(f"http://127.0.0.1:{port}", user_agent="Partnernetz-Test/1.0", timeout=2)
    geocoder = Geocoder(gazetteer, remote=remote, cache_path=str(tmp_path / "cache.sqlite"))
    with pytest.raises(GeocodeNotFound):
        geocoder.geocode("Zeche Zollverein")
    with sqlite3.connect(tmp_path / "cache.sqlite") as con:
        assert con.execute("SELECT count(*) FROM geocode_cache").fetchone() == (0,)


def test_make_geocoder_with_url(nominatim: LocalNominatim, tmp_path: Path) -> None:
    environ = {"NOMINATIM_URL": nominatim.url + "/", "NOMINATIM_USER_AGENT": "Partnernetz/1.0 (admin@example.org)"}
    geocoder = make_geocoder(_settings(tmp_path, environ))
    assert geocoder.geocode("Zeche Zollverein").source == "nominatim"
    assert geocoder.geocode("44135").source == "gazetteer"
    assert (tmp_path / "geocode_cache.sqlite").exists()  # default cache path: inside the instance folder
    assert nominatim.hits[0].user_agent == "Partnernetz/1.0 (admin@example.org)"
    assert len(nominatim.hits) == 1


def test_make_nominatim_parses_urls() -> None:
    remote = make_nominatim("https://nominatim.example.org/geo/", user_agent="x", timeout=5)
    assert remote.domain == "nominatim.example.org/geo" and remote.scheme == "https"
    with pytest.raises(ValueError):
        make_nominatim("ftp://example.org", user_agent="x", timeout=5)
