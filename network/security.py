"""Security headers on every response: CSP with a per-request nonce for inline scripts, no framing, no sniffing."""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, g

OSM_TILE_HOST = "https://tile.openstreetmap.org"


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _tile_origin(tiles: str) -> str | None:
    if tiles == "none":
        return None
    if tiles == "osm":
        return OSM_TILE_HOST
    parts = urlsplit(tiles.replace("{s}", "a"))
    if parts.scheme and parts.netloc:
        # Subdomain templates ({s}.tile…) need a wildcard source.
        host = parts.netloc.replace("a.", "*.", 1) if "{s}" in tiles else parts.netloc
        return f"{parts.scheme}://{host}"
    return None


def register(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _headers(response):
        img_src = "'self' data:"
        tile_origin = _tile_origin(app.config["MAP_TILES"])
        if tile_origin:
            img_src += f" {tile_origin}"
        script_src = "'self'"
        if "csp_nonce" in g:
            script_src += f" 'nonce-{g.csp_nonce}'"
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; script-src {script_src}; style-src 'self' 'unsafe-inline'; "
            f"img-src {img_src}; connect-src 'self'; font-src 'self'; object-src 'none'; "
            "base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
