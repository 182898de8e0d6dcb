"""Built layers cached on disk as GeoParquet, keyed by a hash of everything they depend on."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd

from geodata.settings import cache_dir


def file_fingerprint(path: Path) -> str:
    """Cheap identity of an input file: its path, size and modification time."""
    stat = path.stat()
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def cached_layer(name: str, key: dict[str, object], build: Callable[[], gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """Return the layer cached under ``name`` and ``key``, building and storing it if missing."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    path = cache_dir() / "layers" / f"{name}-{digest}.parquet"
    if path.exists():
        try:
            return gpd.read_parquet(path)
        except Exception:  # a damaged cache entry is rebuilt, never trusted
            path.unlink(missing_ok=True)
    layer = build()
    atomic_write(path, lambda tmp: layer.to_parquet(tmp, index=False))
    return layer


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Write through a temporary file in the same folder, then rename over ``path``.

    A failure or interruption leaves any previous ``path`` untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tmp.unlink()  # some writers (GDAL) refuse to overwrite an existing file
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
