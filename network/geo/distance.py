"""Great-circle distance and bounding boxes for radius searches (same formula and radius as geopy's great_circle)."""
from __future__ import annotations

from dataclasses import dataclass
from math import asin, atan2, cos, degrees, floor, radians, sin, sqrt

# geopy.distance.EARTH_RADIUS; using the same sphere and formula keeps our
# distances bit-identical to geopy.distance.great_circle, so results can be
# compared with a geopy reference exactly, ties and radius borders included.
EARTH_RADIUS_KM = 6371.009


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Distance in km between two points on the sphere (Vincenty's formula for a sphere, as geopy uses)."""
    phi1, lam1, phi2, lam2 = radians(lat1), radians(lon1), radians(lat2), radians(lon2)
    sin_phi1, cos_phi1 = sin(phi1), cos(phi1)
    sin_phi2, cos_phi2 = sin(phi2), cos(phi2)
    delta = lam2 - lam1
    cos_delta, sin_delta = cos(delta), sin(delta)
    d = atan2(
        sqrt((cos_phi2 * sin_delta) ** 2 + (cos_phi1 * sin_phi2 - sin_phi1 * cos_phi2 * cos_delta) ** 2),
        sin_phi1 * sin_phi2 + cos_phi1 * cos_phi2 * cos_delta,
    )
    return EARTH_RADIUS_KM * d


@dataclass(frozen=True)
class BoundingBox:
    """Latitude/longitude limits that contain every point within a radius; lon limits are None where they would wrap."""

    min_lat: float
    max_lat: float
    min_lon: float | None
    max_lon: float | None


# A little slack so that rounding never drops a point that lies exactly on the circle.
_SLACK_DEG = 1e-6


def bounding_box(lat: float, lon: float, radius_km: float) -> BoundingBox:
    """The smallest lat/lon box around the circle (exact on the sphere), widened by a tiny slack."""
    angular = radius_km / EARTH_RADIUS_KM
    dlat = degrees(angular)
    min_lat, max_lat = lat - dlat - _SLACK_DEG, lat + dlat + _SLACK_DEG
    if angular >= 3.14159 / 2 or max_lat >= 90 or min_lat <= -90:
        return BoundingBox(max(min_lat, -90.0), min(max_lat, 90.0), None, None)
    ratio = sin(angular) / cos(radians(lat))
    if ratio >= 1:
        return BoundingBox(min_lat, max_lat, None, None)
    dlon = degrees(asin(ratio)) + _SLACK_DEG
    min_lon, max_lon = lon - dlon, lon + dlon
    if min_lon < -180 or max_lon > 180:
        return BoundingBox(min_lat, max_lat, None, None)
    return BoundingBox(min_lat, max_lat, min_lon, max_lon)


# A coarse grid over the globe (0.2° cells, about 22 km × 14 km here). A B-tree
# can narrow only one range; with the cell as the leading key of the index, a
# radius search seeks the few cells under its bounding box instead of scanning
# the whole latitude band.
CELL_DEG = 0.2
MAX_CELLS = 400  # beyond this (huge radii) the latitude band is cheaper


def geo_cell(lat: float, lon: float) -> int:
    """The grid cell of a point, as one integer."""
    return int(floor((lat + 90.0) / CELL_DEG)) * 10_000 + int(floor((lon + 180.0) / CELL_DEG))


def cells_for_box(box: BoundingBox) -> list[int] | None:
    """Every cell the box touches, or None when there are too many (or the box wraps)."""
    if box.min_lon is None or box.max_lon is None:
        return None
    row_first, row_last = int(floor((box.min_lat + 90.0) / CELL_DEG)), int(floor((box.max_lat + 90.0) / CELL_DEG))
    col_first, col_last = int(floor((box.min_lon + 180.0) / CELL_DEG)), int(floor((box.max_lon + 180.0) / CELL_DEG))
    if (row_last - row_first + 1) * (col_last - col_first + 1) > MAX_CELLS:
        return None
    return [row * 10_000 + col for row in range(row_first, row_last + 1) for col in range(col_first, col_last + 1)]
