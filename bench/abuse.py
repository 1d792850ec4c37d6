"""Benchmark: the geocoding attack of issue 8 against gunicorn on loopback, and what a normal search feels of it.

Starts the documented production command (bench/production.py: a throwaway SQLite database with the
demo data, gunicorn with 4 workers on 127.0.0.1) or takes a running URL on loopback. Measures normal
searches alone (the baseline, half before and half after the attacks), then during two attacks by
parallel clients sending oversized and worst-case geocode and search queries: paced (--rate requests
per second) and as a flood (each client's next request as soon as the last is answered). Prints the
worst latency of a normal search during each attack against the worst of the baseline measured in
the same run (target <= 2x), with medians and p90. The attack comes from 127.0.0.2 and the normal
searches from 16 other loopback addresses, so that the per-address rate limits tell them apart as
they would different machines.
Also times the gazetteer itself on 2,000 / 4,000 / 10,000 characters. Bounded in requests and
seconds; loopback only. Not part of `make test`.
"""
from __future__ import annotations

import argparse
import http.client
import ipaddress
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from pathlib import Path

# Run as a script (`python bench/abuse.py`), so the repository root is not on sys.path by itself.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.production import LOOPBACK, flask, free_port, production_env, start, stop, wait_until_serving  # noqa: E402

# Source addresses on loopback, so that the per-address rate limits tell the attacker from the visitors as they
# would different machines; the normal searches come from 16 visitors in turn, each well within its own budget.
ATTACKER = "127.0.0.2"
VISITORS = [f"127.0.1.{n}" for n in range(1, 17)]
# What a visitor does: search a town or postcode, with or without a word, on the page and through the API.
NORMAL = [
    "/?near=Dortmund&radius_km=25",
    "/api/partners?near=58332&radius_km=50",
    "/?near=Hagen&q=Digitalisierung",
    "/api/partners?near=Bochum&q=Coach",
]


def _ipv4_loopback(host: str | None) -> bool:
    try:
        return ipaddress.IPv4Address(host or "").is_loopback
    except ValueError:
        return False


def _fill(unit: str, length: int) -> str:
    return (unit * (length // len(unit) + 1))[:length]


def attack_paths() -> list[str]:
    """The attack of issue 8 and its relatives: long queries just under each limit and far over it."""
    quote = urllib.parse.quote_plus
    worst_place = _fill("neustadt berg hausen ", 200)  # passes the cap: the most ambiguous names, many windows
    worst_address = _fill("a, b c, ", 200)
    return [
        "/api/geocode?q=" + quote(_fill("a ", 4000)),  # the 4 KB request: refused by the app's cap
        "/api/geocode?q=" + quote(_fill("a ", 10_000)),  # 10 KB: refused by gunicorn's request-line limit
        "/api/geocode?q=" + quote(worst_place),
        "/api/geocode?q=" + quote(worst_address),
        "/api/partners?near=" + quote(worst_place) + "&q=" + quote(_fill("coach ", 200)),
        "/?near=" + quote(_fill("a ", 4000)),
        "/karte?q=" + quote(_fill("x", 4000)),
    ]


def timed_get(base: str, path: str, timeout: float, source: str) -> tuple[int, float]:
    """GET base + path from the given loopback address: (status, seconds); status 0 when it failed."""
    parts = urllib.parse.urlsplit(base)
    started = time.perf_counter()
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout, source_address=(source, 0))
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        status = response.status
    except OSError:
        status = 0  # timed out or refused: counts as the worst
    finally:
        connection.close()
    return status, time.perf_counter() - started


def normal_searches(base: str, rounds: int, timeout: float) -> tuple[list[float], Counter]:
    latencies: list[float] = []
    statuses: Counter = Counter()
    for i in range(rounds):
        status, seconds = timed_get(base, NORMAL[i % len(NORMAL)], timeout, VISITORS[i % len(VISITORS)])
        latencies.append(seconds if status else timeout)
        statuses[status] += 1
    return latencies, statuses


def _attacker(base: str, paths: list[str], first: int, budget: int, interval: float, timeout: float,
              stop, results) -> None:
    """One attacking client: the attack paths one after the other, a request every `interval` seconds
    (0: each as soon as the last is answered), until stopped or out of budget.

    At a lower CPU priority: a real attacker's clients run on its own machines, and on this one their
    Python would otherwise take the cores from the server being measured.
    """
    os.nice(10)
    statuses: Counter = Counter()
    worst = 0.0
    next_at = time.monotonic()
    for i in range(first, first + budget):
        if stop.is_set():
            break
        if interval:
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
        status, seconds = timed_get(base, paths[i % len(paths)], timeout, ATTACKER)
        statuses[status] += 1
        worst = max(worst, seconds)
    results.put((statuses, worst))


class Attack:
    """Parallel attacking clients, each its own process: the visitor's timing shares no interpreter with them."""

    def __init__(self, base: str, clients: int, rate: float, budget: int, timeout: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._results = context.Queue()
        self.clients, self.rate, self.timeout = clients, rate, timeout
        interval = clients / rate if rate else 0.0
        self._processes = [
            context.Process(target=_attacker, args=(base, attack_paths(), k, budget // clients, interval, timeout,
                                                    self._stop, self._results), daemon=True)
            for k in range(clients)]
        self.statuses: Counter = Counter()
        self.worst = 0.0

    @property
    def name(self) -> str:
        pace = f"{self.rate:g} requests/s" if self.rate else "as fast as answered (a flood)"
        return f"{self.clients} parallel clients, {pace}"

    def __enter__(self) -> Attack:
        for process in self._processes:
            process.start()
        time.sleep(2.0)  # the attack under way before the first normal search
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for _process in self._processes:
            statuses, worst = self._results.get(timeout=self.timeout + 30)
            self.statuses.update(statuses)
            self.worst = max(self.worst, worst)
        for process in self._processes:
            process.join(timeout=10)


GAZETTEER_SCRIPT = """
import sys, time
sys.path.insert(0, sys.argv[1])
from network.geo.gazetteer import Gazetteer
g = Gazetteer.default()
n = int(sys.argv[2])
q = ("a " * n)[:n]
t = time.perf_counter(); g.geocode(q); g.suggest(q)
print(time.perf_counter() - t)
"""


def gazetteer_timings(limit_seconds: float) -> list[str]:
    """Gazetteer.geocode + suggest on "a a a …" (the issue's input), no cap in front; each run bounded."""
    lines = []
    for n in (2000, 4000, 10_000):
        try:
            out = subprocess.run([sys.executable, "-c", GAZETTEER_SCRIPT, str(ROOT), str(n)], capture_output=True,
                                 text=True, timeout=limit_seconds, check=True).stdout
            lines.append(f"  {n:>6,} characters: {float(out) * 1000:9.1f} ms")
        except subprocess.TimeoutExpired:
            lines.append(f"  {n:>6,} characters: > {limit_seconds:g} s (stopped)")
    return lines


def _p90(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=10, method="inclusive")[-1]


def _latency(label: str, latencies: list[float]) -> str:
    return (f"  {label:<62} median {statistics.median(latencies) * 1000:7.1f} ms, "
            f"p90 {_p90(latencies) * 1000:7.1f} ms, worst {max(latencies) * 1000:7.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server on 127.x.x.x, e.g. http://127.0.0.1:8000 "
                                      "(default: start gunicorn here)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers when starting one (default 4)")
    parser.add_argument("--clients", type=int, default=4, help="parallel attacking clients (default 4)")
    parser.add_argument("--rate", type=float, default=40.0,
                        help="attack requests per second of the paced attack (default 40); a flood follows")
    parser.add_argument("--rounds", type=int, default=60, help="normal searches per phase (default 60)")
    parser.add_argument("--budget", type=int, default=20_000, help="at most this many requests per attack")
    parser.add_argument("--timeout", type=float, default=40.0, help="seconds per request (default 40)")
    parser.add_argument("--lift-limits", action="store_true",
                        help="lift the rate limits of the started server, so that every attack request reaches "
                             "the caps and the matching (by default the production limits hold)")
    parser.add_argument("--skip-gazetteer", action="store_true", help="do not time the gazetteer itself")
    args = parser.parse_args(argv)

    if not args.skip_gazetteer:
        print("gazetteer, geocode + suggest of 'a a a …', no cap in front:")
        for line in gazetteer_timings(limit_seconds=60):
            print(line)

    with tempfile.TemporaryDirectory(prefix="pn-abuse-") as tmp:
        process = None
        if args.url:
            base = args.url.rstrip("/")
            if not _ipv4_loopback(urllib.parse.urlsplit(base).hostname):
                print(f"refusing: {base} is not on IPv4 loopback (127.x.x.x)", file=sys.stderr)
                return 2
            print(f"server {base}")
        else:
            port = free_port()
            lifted = {"GEOCODE_RATE_LIMIT": "1000000 per minute",
                      "SEARCH_RATE_LIMIT": "1000000 per minute"} if args.lift_limits else {}
            env = production_env(Path(tmp) / "instance", f"sqlite:///{tmp}/abuse.sqlite", port,
                                 GUNICORN_WORKERS=str(args.workers), **lifted)
            for step in (("db", "upgrade"), ("seed-demo",)):
                done = flask(env, *step)
                if done.returncode != 0:
                    print(done.stderr[-3000:], file=sys.stderr)
                    return 1
            log = Path(tmp) / "gunicorn.log"
            base = f"http://{LOOPBACK}:{port}"
            process = start(env, log)
            print(f"server: gunicorn -c gunicorn.conf.py wsgi:app on {base}, {args.workers} workers, demo data, "
                  f"rate limits {'lifted' if args.lift_limits else 'as in production'}")
        print(f"normal searches: {len(NORMAL)} kinds in turn, {args.rounds} per phase, one at a time from "
              f"{len(VISITORS)} visitors; "
              f"attack from {ATTACKER}: {len(attack_paths())} oversized or worst-case geocode/search URLs in turn")
        attacks: list[tuple[Attack, list[float]]] = []
        statuses: Counter = Counter()
        try:
            if process is not None:
                wait_until_serving(process, base + "/", Path(tmp) / "gunicorn.log", 120)
            normal_searches(base, 2 * len(NORMAL), args.timeout)  # warm every worker's caches
            # The baseline half before and half after the attacks: other load on the machine drifts.
            baseline, seen = normal_searches(base, args.rounds // 2, args.timeout)
            statuses.update(seen)
            for rate in (args.rate, 0.0):
                with Attack(base, args.clients, rate, args.budget, args.timeout) as attack:
                    during, seen = normal_searches(base, args.rounds, args.timeout)
                statuses.update(seen)
                attacks.append((attack, during))
            after, seen = normal_searches(base, args.rounds - args.rounds // 2, args.timeout)
            baseline += after
            statuses.update(seen)
        finally:
            if process is not None:
                stop(process)

    print(_latency("baseline, no attack (half before, half after):", baseline))
    met = set(statuses) == {200}
    for attack, during in attacks:
        ratio = max(during) / max(baseline)
        met = met and ratio <= 2.0
        print(_latency(f"during the attack ({attack.name}):", during))
        print(f"    attack: {sum(attack.statuses.values())} requests, "
              f"statuses {dict(sorted(attack.statuses.items()))}, "
              f"slowest answer {attack.worst * 1000:.1f} ms")
        print(f"    worst normal search during the attack / worst of the baseline: {ratio:.2f}x (target <= 2x); "
              f"p90 / p90: {_p90(during) / _p90(baseline):.2f}x")
    print(f"normal searches answered: {dict(statuses)}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
