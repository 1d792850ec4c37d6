"""Benchmark: the map for 10,000 partners, build_map (JSON + FastMarkerCluster) against one folium Marker each."""
from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

import folium
from folium.plugins import MarkerCluster

# Run as `.venv/bin/python bench/map.py` from the repo root: make the package importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from network.directory.mapview import KindLegend, MapCenter, MapPoint, build_map  # noqa: E402

N_POINTS = 10_000
OURS_RUNS = 5
BASELINE_RUNS = 3

KINDS = [
    KindLegend("innovationscoach", "Innovationscoach", "#1f77b4"),
    KindLegend("technologiescout", "Technologiescout Südwestfalen", "#ff7f0e"),
    KindLegend("hochschulinstitut", "Hochschulinstitut", "#2ca02c"),
    KindLegend("kompetenzzentrum", "Kompetenzzentrum Mittelstand 4.0", "#d62728"),
    KindLegend("innoscheck", "InnoScheck.Ruhr-Berater", "#9467bd"),
]
TOPICS = ["KI", "IT-Sicherheit", "Robotik", "Additive Fertigung", "Cloud", "IoT", "Energie", "ERP"]
REGIONS = ["Hagen", "Dortmund", "Bochum", "Herne", "Ennepe-Ruhr-Kreis", "Märkischer Kreis", "Siegen-Wittgenstein"]


def synthetic_points(n: int = N_POINTS, seed: int = 42) -> list[MapPoint]:
    """Partners scattered over the Ruhr and Südwestfalen, with realistic text lengths."""
    rnd = random.Random(seed)
    points = []
    for i in range(1, n + 1):
        kind = rnd.choice(KINDS)
        points.append(
            MapPoint(
                id=i,
                name=f"Dr. Partnerin Nr. {i} Müller-Lüdenscheidt",
                lat=rnd.uniform(50.7, 52.0),
                lon=rnd.uniform(6.8, 8.7),
                kind_slug=kind.slug,
                kind_name=kind.name,
                organisation=f"Wirtschaftsförderung {rnd.choice(REGIONS)} GmbH",
                topics=rnd.sample(TOPICS, rnd.randint(1, 3)),
                region=rnd.choice(REGIONS),
                distance_km=rnd.uniform(0.5, 80.0),
                url=f"/partner/{i}",
            )
        )
    return points


def static_url(path: str) -> str:
    return "/static/" + path


def ours(points: list[MapPoint]) -> str:
    """Full page: build_map's parts in a minimal document, as the directory template does."""
    parts = build_map(points, KINDS, MapCenter(51.45, 7.65, "Hagen", 50.0), static_url=static_url)
    return (
        "<!DOCTYPE html>\n<html lang=\"de\"><head><meta charset=\"utf-8\">\n"
        f"{parts.head}\n</head><body>\n{parts.html}\n"
        f"<script nonce=\"bench\">\n{parts.script}\n</script>\n</body></html>\n"
    )


def baseline(points: list[MapPoint]) -> str:
    """folium's plain way: one Marker with a Popup per partner inside a MarkerCluster."""
    m = folium.Map(location=[51.45, 7.65], zoom_start=9)
    cluster = MarkerCluster().add_to(m)
    for p in points:
        html = (
            f"<b>{p.name}</b><br>{p.kind_name}<br>{p.organisation}<br>"
            f"{', '.join(p.topics)}<br>{p.region}<br>{p.distance_km:.1f} km<br>"
            f"<a href=\"{p.url}\">Profil ansehen</a>"
        )
        folium.Marker([p.lat, p.lon], popup=folium.Popup(html, max_width=300)).add_to(cluster)
    return m.get_root().render()


def timed(fn, points: list[MapPoint], runs: int) -> tuple[float, int]:
    times = []
    size = 0
    for _ in range(runs):
        start = time.perf_counter()
        page = fn(points)
        times.append(time.perf_counter() - start)
        size = len(page.encode("utf-8"))
    return statistics.median(times), size


def main() -> None:
    points = synthetic_points()
    ours(points[:10])  # warm imports and template compilation outside the timing
    baseline(points[:10])

    t_ours, b_ours = timed(ours, points, OURS_RUNS)
    t_base, b_base = timed(baseline, points, BASELINE_RUNS)

    print(f"partners: {len(points):,}")
    print(f"build_map (JSON + FastMarkerCluster): median {t_ours * 1000:8.1f} ms over {OURS_RUNS} runs, "
          f"{b_ours:>11,} bytes")
    print(f"folium Marker+Popup in MarkerCluster: median {t_base * 1000:8.1f} ms over {BASELINE_RUNS} runs, "
          f"{b_base:>11,} bytes")
    time_ratio = t_base / t_ours
    byte_ratio = b_base / b_ours
    print(f"server time ratio (baseline / ours): {time_ratio:6.1f}x  (target >= 20x) "
          f"{'OK' if time_ratio >= 20 else 'MISSED'}")
    print(f"byte ratio        (baseline / ours): {byte_ratio:6.1f}x  (target >= 5x) "
          f"{'OK' if byte_ratio >= 5 else 'MISSED'}")


if __name__ == "__main__":
    main()
