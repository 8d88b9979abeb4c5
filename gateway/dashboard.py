"""The browser dashboard, served by Envoy itself at ``/`` (same origin as the API).

Each file of the committed bundle (``gateway/generated/dashboard``, built by
``scripts/build_dashboard.py``) is one exact route with a ``direct_response`` whose body
Envoy reads from the file when it loads the config: no extra server, no Node at run time.
The compressor filter gzips these (and only these) content types on the way out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

Json = dict[str, Any]

BUNDLE_DIR = Path(__file__).resolve().parent / "generated" / "dashboard"
INDEX = "index.html"
# Envoy refuses direct-response bodies above the route config's limit (default 4 KiB).
MAX_FILE_BYTES = 4 * 1024 * 1024

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# What the compressor filter gzips: the dashboard's text files, never the API's JSON/CSV.
COMPRESSED_TYPES = ["text/html", "text/javascript", "text/css", "image/svg+xml"]

# The page only talks to its own origin; Recharts sets inline style attributes.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
# Hashed asset names change with their content; index.html must be revalidated.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

_T = "type.googleapis.com/envoy."
COMPRESSOR = _T + "extensions.filters.http.compressor.v3.Compressor"
GZIP = _T + "extensions.compression.gzip.compressor.v3.Gzip"


class BundleError(RuntimeError):
    """The dashboard bundle is missing or unusable."""


def bundle_files(bundle: Path = BUNDLE_DIR) -> list[str]:
    """The bundle's files relative to it, sorted (so the config text is stable)."""
    if not (bundle / INDEX).is_file():
        raise BundleError(f"no dashboard bundle at {bundle}: run python scripts/build_dashboard.py")
    names = sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file())
    for name in names:
        if Path(name).suffix not in CONTENT_TYPES:
            raise BundleError(f"dashboard file {name} has no known content type")
        if (bundle / name).stat().st_size > MAX_FILE_BYTES:
            raise BundleError(f"dashboard file {name} is over {MAX_FILE_BYTES} bytes")
    return names


def _header(key: str, value: str) -> Json:
    return {"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}


def _file_route(path: str, name: str, serve_from: Path, disable: Json) -> Json:
    headers = [
        _header("content-type", CONTENT_TYPES[Path(name).suffix]),
        _header("cache-control", REVALIDATE if name == INDEX else IMMUTABLE),
        _header("x-content-type-options", "nosniff"),
    ]
    if name == INDEX:
        headers += [
            _header("content-security-policy", CONTENT_SECURITY_POLICY),
            _header("referrer-policy", "no-referrer"),
        ]
    return {
        "name": f"dashboard {path}",
        "match": {"path": path},
        "direct_response": {"status": 200, "body": {"filename": str(serve_from / name)}},
        "response_headers_to_add": headers,
        "typed_per_filter_config": disable,
    }


def dashboard_routes(serve_from: Path, disable: Json, bundle: Path = BUNDLE_DIR) -> list[Json]:
    """One route per file; ``serve_from`` is where Envoy finds the bundle (``bundle`` itself
    locally, a mounted copy in a container). ``disable`` turns the transcoder off."""
    routes = [_file_route("/", INDEX, serve_from, disable)]
    routes += [_file_route(f"/{name}", name, serve_from, disable) for name in bundle_files(bundle)]
    return routes


def compressor_filter() -> Json:
    return {
        "name": "envoy.filters.http.compressor",
        "typed_config": {
            "@type": COMPRESSOR,
            "response_direction_config": {
                "common_config": {"min_content_length": 1024, "content_type": COMPRESSED_TYPES}
            },
            "compressor_library": {
                "name": "gzip",
                "typed_config": {
                    "@type": GZIP,
                    # Envoy's defaults (a 12-bit window, memory level 5) compress a bundle
                    # this size clearly worse than gzip -9.
                    "compression_level": "BEST_COMPRESSION",
                    "window_bits": 15,
                    "memory_level": 9,
                },
            },
        },
    }
