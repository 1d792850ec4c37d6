"""Geocoding service: the offline gazetteer first, then (only when configured) a rate-limited, cached Nominatim."""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from geopy.adapters import URLLibAdapter
from geopy.exc import GeopyError
from geopy.geocoders import Nominatim
from geopy.location import Location

from network.geo.gazetteer import Gazetteer, normalize

log = logging.getLogger(__name__)

# Places rarely move; a wrong answer is fixed by deleting the cache file.
FOUND_TTL_SECONDS = 90 * 24 * 3600.0
# A miss may be a typo today and a new street next month: forget it sooner.
NOT_FOUND_TTL_SECONDS = 24 * 3600.0
COUNTRY_CODES = "de"

# Input caps in characters, checked by the callers before any work (README, "Input limits"): a place or
# postcode typed into a search field, and a full address (street, postcode, town).
PLACE_MAX_LENGTH = 200
ADDRESS_MAX_LENGTH = 300
# The geocoder's own limit, for every caller (a CSV row's street, postcode and city come to at most 333).
QUERY_MAX_LENGTH = 400


@dataclass(frozen=True)
class GeocodeResult:
    """Where a query points to, and which component answered it."""

    lat: float
    lon: float
    label: str
    source: str  # 'gazetteer' | 'nominatim' | 'cache'


class GeocodeNotFound(Exception):
    """Neither the gazetteer nor (if configured) Nominatim knows the query; carries "did you mean" labels."""

    code = "place.not_found"

    def __init__(self, query: str, suggestions: list[str] | None = None) -> None:
        self.query = query
        self.suggestions = list(suggestions or [])
        super().__init__(f"{self.code}: {query}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.query, self.suggestions))


class GeocodeQueryTooLong(GeocodeNotFound):
    """Longer than any address (QUERY_MAX_LENGTH): refused unread. A "not found", so that no caller fails on it."""

    def __init__(self, query: str, suggestions: list[str] | None = None) -> None:
        super().__init__(query[:QUERY_MAX_LENGTH], [])


class RemoteGeocoder(Protocol):
    """What Geocoder needs from a remote service: geopy's geocode()."""

    def geocode(self, query: str, exactly_one: bool = True, **kwargs: Any) -> Any: ...


class _Cache:
    """Persistent answers of the remote geocoder, shared by all worker processes through one SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            # WAL lets workers read while another one writes.
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(
                "CREATE TABLE IF NOT EXISTS geocode_cache ("
                " query_key TEXT PRIMARY KEY, found INTEGER NOT NULL,"
                " lat REAL, lon REAL, label TEXT, fetched_at REAL NOT NULL)"
            )

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=10.0)
        try:
            with con:
                yield con
        finally:
            con.close()

    def get(self, key: str, now: float) -> GeocodeResult | bool | None:
        """A cached result, False for a cached miss, None when nothing (fresh) is cached."""
        try:
            with self._connect() as con:
                row = con.execute(
                    "SELECT found, lat, lon, label, fetched_at FROM geocode_cache WHERE query_key = ?", (key,)
                ).fetchone()
        except sqlite3.Error as exc:
            log.warning("geocode cache %s unreadable: %s", self.path, exc)
            return None
        if row is None:
            return None
        found, lat, lon, label, fetched_at = row
        ttl = FOUND_TTL_SECONDS if found else NOT_FOUND_TTL_SECONDS
        if now - fetched_at > ttl:
            return None
        if not found:
            return False
        return GeocodeResult(lat=lat, lon=lon, label=label, source="cache")

    def put(self, key: str, result: GeocodeResult | None, now: float) -> None:
        values = (key, 1, result.lat, result.lon, result.label, now) if result else (key, 0, None, None, None, now)
        try:
            with self._connect() as con:
                con.execute("INSERT OR REPLACE INTO geocode_cache VALUES (?, ?, ?, ?, ?, ?)", values)
        except sqlite3.Error as exc:
            log.warning("geocode cache %s not writable: %s", self.path, exc)


class _Turn:
    """The right to send one remote request, held under the cross-process lock."""

    def __init__(self, fd: int, min_delay: float) -> None:
        self._fd = fd
        self._min_delay = min_delay

    def wait(self) -> None:
        try:
            last = float(os.pread(self._fd, 64, 0).decode("ascii") or 0.0)
        except ValueError:
            last = 0.0
        # Capped, so a clock set back cannot stall every worker for hours.
        delay = min(last + self._min_delay - time.time(), self._min_delay)
        if delay > 0:
            time.sleep(delay)

    def done(self) -> None:
        # Stamped after the answer arrived: the gap to the next request then holds even for slow answers.
        stamp = repr(time.time()).encode("ascii")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, stamp, 0)


class _RateLimiter:
    """At most one remote request per `min_delay` seconds across all processes sharing `lock_path`.

    flock on a file beside the cache: every gunicorn worker (and every thread, since each
    opens its own file description) queues here, and the file holds the last request time.
    """

    def __init__(self, lock_path: str, min_delay: float) -> None:
        self.lock_path = lock_path
        self.min_delay = min_delay
        Path(lock_path).parent.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def turn(self) -> Iterator[_Turn]:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield _Turn(fd, self.min_delay)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


class Geocoder:
    """Turns a postcode, place or address into coordinates; raises GeocodeNotFound with suggestions."""

    def __init__(self, gazetteer: Gazetteer, remote: RemoteGeocoder | None = None,
                 cache_path: str | None = None, min_delay_seconds: float = 1.0) -> None:
        self.gazetteer = gazetteer
        self.remote = remote
        self.min_delay_seconds = min_delay_seconds
        self._cache: _Cache | None = None
        self._limiter: _RateLimiter | None = None
        if remote is not None:
            if cache_path:
                self._cache = _Cache(cache_path)
                lock_path = cache_path + ".lock"
            else:
                # Without a cache file there is still one deployment-wide clock to keep.
                lock_path = os.path.join(os.path.expanduser("~"), ".partnernetz-nominatim.lock")
            self._limiter = _RateLimiter(lock_path, min_delay_seconds)

    def geocode(self, query: str) -> GeocodeResult:
        text = (query or "").strip()
        if not text:
            raise GeocodeNotFound(query or "", [])
        if len(text) > QUERY_MAX_LENGTH:
            # Neither the gazetteer nor a remote service gets to see it.
            raise GeocodeQueryTooLong(text)
        location = self.gazetteer.geocode(text)
        if location is not None:
            return GeocodeResult(location.latitude, location.longitude, location.address, "gazetteer")
        key = normalize(text)
        if self.remote is None or self._limiter is None or not key:
            raise self._not_found(text)
        cached = self._cache_get(key)
        if cached is not None:
            return self._from_cache(text, cached)
        with self._limiter.turn() as turn:
            # Another worker may have asked the same question while this one queued.
            cached = self._cache_get(key)
            if cached is not None:
                return self._from_cache(text, cached)
            turn.wait()
            try:
                location = self._ask_remote(text)
            except (GeopyError, OSError, ValueError, KeyError, TypeError) as exc:
                # Not cached: the service may be back in a minute, and the query may be fine.
                log.warning("Nominatim failed for %r: %s: %s", text, type(exc).__name__, exc)
                raise self._not_found(text) from None
            finally:
                turn.done()
        result = None
        if location is not None:
            result = GeocodeResult(float(location.latitude), float(location.longitude),
                                   str(location.address), "nominatim")
        if self._cache is not None:
            self._cache.put(key, result, time.time())
        if result is None:
            raise self._not_found(text)
        return result

    def _ask_remote(self, text: str) -> Location | None:
        assert self.remote is not None
        if isinstance(self.remote, Nominatim):
            return self.remote.geocode(text, exactly_one=True, country_codes=COUNTRY_CODES, language="de")
        return self.remote.geocode(text, exactly_one=True)

    def _cache_get(self, key: str) -> GeocodeResult | bool | None:
        return self._cache.get(key, time.time()) if self._cache is not None else None

    def _from_cache(self, text: str, cached: GeocodeResult | bool) -> GeocodeResult:
        if isinstance(cached, GeocodeResult):
            return cached
        raise self._not_found(text)

    def _not_found(self, text: str) -> GeocodeNotFound:
        return GeocodeNotFound(text, self.gazetteer.suggest(text))


def make_nominatim(url: str, user_agent: str, timeout: float) -> Nominatim:
    """geopy's Nominatim for a base URL like "https://nominatim.example.org" or "http://127.0.0.1:8765/sub"."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"NOMINATIM_URL must be an http(s) URL, not {url!r}")
    # geopy joins scheme://domain + "/search", so a path prefix rides along in the domain.
    domain = parts.netloc + parts.path.rstrip("/")
    # urllib: no silent retries that would break the one-request-per-second promise.
    return Nominatim(domain=domain, scheme=parts.scheme, user_agent=user_agent,
                     timeout=timeout, adapter_factory=URLLibAdapter)


def make_geocoder(config: Mapping[str, Any]) -> Geocoder:
    """The application's geocoder: offline only unless NOMINATIM_URL is set."""
    gazetteer = Gazetteer.default()
    url = config["NOMINATIM_URL"]
    if not url:
        return Geocoder(gazetteer)
    remote = make_nominatim(url, user_agent=config["NOMINATIM_USER_AGENT"], timeout=config["NOMINATIM_TIMEOUT"])
    return Geocoder(gazetteer, remote=remote, cache_path=config["GEOCODE_CACHE_PATH"])
