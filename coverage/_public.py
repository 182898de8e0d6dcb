"""Public coverage data turned into footprints: OpenCelliD cell exports and Ookla open data tiles.

* **OpenCelliD** (``radio, mcc, net, area, cell, unit, lon, lat, range, samples, changeable,
  created, updated, averageSignal``; the full exports have no header row). Only MCC 452
  (Vietnam) and the five operators' MNCs are kept. ``range`` is OpenCelliD's estimate of how
  uncertain the cell's *position* is, not how far it serves, so it is never used as a radius:
  each cell gets a service radius from a stated model per technology and area type
  (:data:`DEFAULT_RADII_M`, overridable per ``[[coverage]]`` entry), and the layer is ``modelled``.
* **Ookla open data** performance tiles (Parquet with ``quadkey, tile, avg_d_kbps, avg_u_kbps,
  avg_lat_ms, tests, devices``, or the Shapefile release): zoom-16 tiles whose average download
  speed reaches a stated threshold are the footprint; the layer is ``measured``. The open data
  mixes all operators, so the layer's operator is whatever the entry states. A global Parquet
  file is read for Vietnam only: the three columns used, and only the row groups whose quadkeys
  (or tile centres, ``tile_x``/``tile_y``) can fall in Vietnam's box.
"""

from __future__ import annotations

import gzip
import io
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from coverage._tables import numbers
from coverage.reach import Footprint
from geodata._archive import check_file, max_bytes
from geodata._validate import read_vector
from geodata.crs import AREA_CRS, DISPLAY_CRS
from geodata.errors import DataFileError, InputLimitError
from geodata.registry import Registry

OPENCELLID_COLUMNS = ["radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples",
                      "changeable", "created", "updated", "averageSignal"]
VIETNAM_MCC = 452
MNC_OPERATORS = {1: "MobiFone", 2: "VinaPhone", 4: "Viettel", 5: "Vietnamobile", 7: "Gmobile"}
RADIO_TECHNOLOGY = {"GSM": "2G", "CDMA": "2G", "UMTS": "3G", "LTE": "4G", "NR": "5G"}
# Stated model, not measurements: typical macro-cell design radii for outdoor RSRP >= -110 dBm
# (4G on 1800 MHz; 5G NR on 2600-3500 MHz), urban (wards and towns) and rural (communes).
DEFAULT_RADII_M: dict[str, dict[str, float]] = {"4G": {"urban": 1000.0, "rural": 3000.0},
                                                "5G": {"urban": 300.0, "rural": 800.0}}
OOKLA_COLUMNS = ["quadkey", "avg_d_kbps", "avg_u_kbps", "avg_lat_ms", "tests", "devices"]
_VN_BBOX = (102.0, 8.0, 117.5, 23.5)
_MAX_PROBLEMS = 200


def _raise(path: Path, problems: list[str], total: int, what: str) -> None:
    if total:
        listed = f"; the first {len(problems)} are listed" if total > len(problems) else ""
        raise DataFileError(path, f"has {total:,} problem(s){listed}. {what}", problems[:_MAX_PROBLEMS])


def _text(path: Path, limit: int | None) -> str:
    """The file's text; ``.gz`` decompressed with the size limit applied to what comes out."""
    path = check_file(path, limit)
    if path.suffix.lower() != ".gz":
        return path.read_bytes().decode("utf-8-sig", errors="replace")
    cap = max_bytes(limit)
    try:
        with gzip.open(path) as f:
            data = f.read(cap + 1)
    except (OSError, EOFError) as exc:
        raise DataFileError(path, f"cannot be decompressed ({exc}): is it truncated? Download it again.") from exc
    if len(data) > cap:
        raise InputLimitError(path, f"unpacks to more than {cap / 2**20:,.0f} MB: refused (a gzip bomb, or a file "
                                    "to cut to Vietnam first).")
    return data.decode("utf-8-sig", errors="replace")


def _area_types(lon: np.ndarray, lat: np.ndarray, registry: Registry) -> np.ndarray:
    """'urban' or 'rural' for each point, from the type of the nearest commune centre."""
    from scipy.spatial import cKDTree  # here: only public-data imports need it, not the app's pages

    communes = registry.units("63", "commune")
    scale = math.cos(math.radians(16))
    tree = cKDTree(np.column_stack([communes["lon"].to_numpy(float) * scale, communes["lat"].to_numpy(float)]))
    _, idx = tree.query(np.column_stack([lon * scale, lat]))
    kinds = communes["type"].to_numpy()[idx]
    return np.where(np.isin(kinds, ["ward", "town"]), "urban", "rural")


def _circles(lon: np.ndarray, lat: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Circles of ``radius`` metres (drawn in the equal-area projection) as EPSG:4326 polygons."""
    to_m = Transformer.from_crs(DISPLAY_CRS, AREA_CRS, always_xy=True)
    back = Transformer.from_crs(AREA_CRS, DISPLAY_CRS, always_xy=True)
    x, y = to_m.transform(lon, lat)
    shapes = shapely.buffer(shapely.points(x, y), radius, quad_segs=8)
    return shapely.transform(shapes, lambda xy: np.column_stack(back.transform(xy[:, 0], xy[:, 1])))


def read_opencellid(path: Path, registry: Registry, *, radii: dict | None = None, limit: int | None = None
                    ) -> tuple[pd.DataFrame, list[str]]:
    """Vietnamese 4G/5G cells of an OpenCelliD export with a modelled radius each, and notes on
    what was left out (other countries, unknown networks, 2G/3G, positions outside Vietnam)."""
    text = _text(path, limit)
    first = text.lstrip().split("\n", 1)[0]
    header = None if first.split(",")[0].strip().upper() in RADIO_TECHNOLOGY else 0
    try:
        df = pd.read_csv(io.StringIO(text), header=header, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataFileError(path, f"cannot be parsed as an OpenCelliD CSV ({exc}): is it truncated?") from exc
    if header is None:
        if df.shape[1] != len(OPENCELLID_COLUMNS):
            raise DataFileError(path, f"has {df.shape[1]} columns without a header; an OpenCelliD export has "
                                      f"{len(OPENCELLID_COLUMNS)}: {', '.join(OPENCELLID_COLUMNS)}.")
        df.columns = OPENCELLID_COLUMNS
    missing = [c for c in ("radio", "mcc", "net", "area", "cell", "lon", "lat") if c not in df.columns]
    if missing:
        raise DataFileError(path, f"lacks the OpenCelliD column(s) {', '.join(missing)}; found "
                                  f"{', '.join(df.columns)}.")
    if len(df) == 0:
        raise DataFileError(path, "has no cells.")
    df.index = pd.RangeIndex(1 if header is None else 2, len(df) + (1 if header is None else 2))
    problems: list[str] = []
    total = 0
    values = {}
    for col, kind in (("mcc", "int"), ("net", "int"), ("lon", "float"), ("lat", "float")):
        values[col] = numbers(df[col], kind)
        bad = np.flatnonzero(values[col].isna().to_numpy())
        total += len(bad)
        problems += [f"row {df.index[i]}, field {col}: {df[col].iloc[i]!r} is not a number"
                     for i in bad[: _MAX_PROBLEMS - len(problems)]]
    _raise(path, problems, total, "Download the export again.")
    notes = []
    radio = df["radio"].str.strip().str.upper()
    tech = radio.map(RADIO_TECHNOLOGY)
    keep = (values["mcc"] == VIETNAM_MCC).to_numpy()
    if (~keep).any():
        notes.append(f"{int((~keep).sum()):,} cell(s) of other countries (MCC not {VIETNAM_MCC}) left out")
    net = values["net"].astype("Int64")
    known = net.isin(list(MNC_OPERATORS)).to_numpy()
    if (keep & ~known).any():
        counts = net[keep & ~known].value_counts()
        notes.append("cells of unknown networks left out: " + ", ".join(f"MNC {k}: {v}" for k, v in counts.items()))
    broadband = tech.isin(["4G", "5G"]).to_numpy()
    if (keep & known & ~broadband).any():
        notes.append(f"{int((keep & known & ~broadband).sum()):,} 2G/3G (or unknown radio) cell(s) left out: not "
                     "broadband")
    lon, lat = values["lon"].to_numpy(float), values["lat"].to_numpy(float)
    x0, y0, x1, y1 = _VN_BBOX
    inside = (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
    if (keep & known & broadband & ~inside).any():
        notes.append(f"{int((keep & known & broadband & ~inside).sum()):,} cell(s) placed outside Vietnam left out")
    sel = keep & known & broadband & inside
    cells = pd.DataFrame({
        "site_id": ("ocid-452-" + df["net"].str.strip() + "-" + df["area"].str.strip() + "-"
                    + df["cell"].str.strip())[sel].to_numpy(),
        "operator": net[sel].map(MNC_OPERATORS).to_numpy(),
        "technology": tech[sel].to_numpy(), "lon": lon[sel], "lat": lat[sel], "row": df.index[sel].to_numpy()})
    cells = cells.drop_duplicates("site_id", keep="last").reset_index(drop=True)
    model = {t: {**DEFAULT_RADII_M[t], **((radii or {}).get(t, {}))} for t in DEFAULT_RADII_M}
    cells["area_type"] = _area_types(cells["lon"].to_numpy(), cells["lat"].to_numpy(), registry) if len(cells) else []
    cells["radius_m"] = [float(model[t][a]) for t, a in zip(cells["technology"], cells["area_type"])]
    if len(cells) == 0:
        raise DataFileError(path, "holds no 4G/5G cell of a Vietnamese operator (MCC 452, MNC 1, 2, 4, 5 or 7).",
                            notes)
    return cells, notes


def opencellid_footprints(path: Path, registry: Registry, entry: dict, limit: int | None = None
                          ) -> tuple[list[Footprint], list[str]]:
    """One modelled footprint per operator and technology from an OpenCelliD export."""
    cells, notes = read_opencellid(path, registry, radii=entry.get("radii"), limit=limit)
    shapes = _circles(cells["lon"].to_numpy(float), cells["lat"].to_numpy(float), cells["radius_m"].to_numpy(float))
    out = []
    for (op, tech), idx in cells.groupby(["operator", "technology"]).indices.items():
        out.append(Footprint(gpd.GeoSeries(shapes[idx], crs=DISPLAY_CRS), operator=str(op), technology=str(tech),
                             file=entry["file"], provenance="modelled", as_of=str(entry["as_of"])))
    return out, notes


def _quadkey_tiles(keys: pd.Series) -> np.ndarray:
    """Polygons (EPSG:4326) of web-mercator tiles given as quadkeys (vectorised per zoom level);
    a key that is not a quadkey (digits 0 to 3) gives a missing geometry."""
    keys = np.asarray(pd.Series(keys, dtype=object).astype(str), dtype=str)
    out = np.full(len(keys), None, dtype=object)
    lengths = np.char.str_len(keys) if len(keys) else np.zeros(0, dtype=int)
    for z in np.unique(lengths):
        if z == 0:
            continue
        idx = np.flatnonzero(lengths == z)
        raw = np.char.encode(keys[idx], "ascii", "replace").astype(f"S{z}")
        digits = np.frombuffer(raw.tobytes(), dtype=np.uint8).reshape(-1, z).astype(np.int64) - ord("0")
        valid = ((digits >= 0) & (digits <= 3)).all(axis=1)
        weights = 1 << np.arange(z - 1, -1, -1, dtype=np.int64)
        x = ((digits & 1) * weights).sum(axis=1)
        y = ((digits >> 1) * weights).sum(axis=1)
        n = float(2 ** z)

        def _lat(t: np.ndarray) -> np.ndarray:
            return np.degrees(np.arctan(np.sinh(np.pi * (1 - 2 * t / n))))

        boxes = shapely.box(x / n * 360 - 180, _lat(y + 1), (x + 1) / n * 360 - 180, _lat(y))
        out[idx[valid]] = boxes[valid]
    return out


def _quadkey_ranges(box: tuple[float, float, float, float], zoom: int) -> list[tuple[str, str | None]]:
    """Lexicographic ranges [lo, hi) of the quadkeys of every tile inside the zoom-``zoom`` tiles
    that meet ``box`` (lon/lat): a file sorted by quadkey is then read only where they lie."""
    n = 2 ** zoom

    def _x(lon: float) -> int:
        return min(n - 1, max(0, int((lon + 180) / 360 * n)))

    def _y(lat: float) -> int:
        return min(n - 1, max(0, int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)))

    x0, y0, x1, y1 = box
    ranges = []
    for y in range(_y(y1), _y(y0) + 1):
        row = ["".join(str(((x >> i) & 1) | (((y >> i) & 1) << 1)) for i in range(zoom - 1, -1, -1))
               for x in range(_x(x0), _x(x1) + 1)]
        for key in row:  # neighbours in x are not neighbours in quadkey order: one range each
            stem = key.rstrip("3")
            ranges.append((key, stem[:-1] + str(int(stem[-1]) + 1) if stem else None))
    return ranges


_OOKLA_USED = ("avg_d_kbps", "tests")


def _ookla_parquet(path: Path) -> pd.DataFrame:
    """The columns the footprint uses, and where the file allows it only the rows over Vietnam's
    box: a filter on the tile centre (``tile_x``, ``tile_y``) or on quadkey ranges, which Parquet
    row-group statistics turn into skipping the rest of the world (Ookla's files are sorted by
    quadkey). A national layer is read from a global file without holding the world in memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise DataFileError(path, f"cannot be read as Parquet ({exc}): is it truncated? Download it again.") from exc
    names = set(schema.names)
    missing = [c for c in _OOKLA_USED if c not in names]
    if "quadkey" not in names and "tile" not in names:
        missing.append("tile or quadkey")
    if missing:
        raise DataFileError(path, f"lacks the Ookla column(s) {', '.join(missing)}; found {', '.join(schema.names)}.")
    shape = "quadkey" if "quadkey" in names else "tile"  # quadkeys are 16 bytes, WKT ten times that
    x0, y0, x1, y1 = _VN_BBOX
    filters = None
    if {"tile_x", "tile_y"} <= names and all(pa.types.is_floating(schema.field(c).type) for c in ("tile_x", "tile_y")):
        filters = [("tile_x", ">=", x0), ("tile_x", "<=", x1), ("tile_y", ">=", y0), ("tile_y", "<=", y1)]
    elif shape == "quadkey" and (pa.types.is_string(schema.field("quadkey").type)
                                 or pa.types.is_large_string(schema.field("quadkey").type)):
        filters = [[("quadkey", ">=", lo)] + ([("quadkey", "<", hi)] if hi else [])
                   for lo, hi in _quadkey_ranges(_VN_BBOX, 7)]
    try:
        table = pq.read_table(path, columns=[*_OOKLA_USED, shape], filters=filters)
    except Exception as exc:  # noqa: BLE001 - as above
        raise DataFileError(path, f"cannot be read as Parquet ({exc}): is it truncated? Download it again.") from exc
    return table.to_pandas()


def read_ookla(path: Path, limit: int | None = None) -> gpd.GeoDataFrame:
    """Ookla performance tiles over Vietnam, checked: Parquet (``tile`` WKT or ``quadkey``) or a vector file.

    Only tiles whose centre lies in Vietnam's box are kept and checked (with tiles whose shape is
    unreadable); problems name a tile by its position among those and by its quadkey when the
    file has one.
    """
    path = check_file(path, limit)
    if path.suffix.lower() == ".parquet":
        df = _ookla_parquet(path)
        if len(df) == 0:
            raise DataFileError(path, "has no tile over Vietnam.")
        if "tile" in df.columns:
            try:
                geoms = shapely.from_wkt(df["tile"].astype(str).to_numpy(), on_invalid="ignore")
            except shapely.errors.ShapelyError as exc:
                raise DataFileError(path, f"has tiles that are not WKT polygons ({exc}).") from exc
            field, what = "tile", "polygon"
        else:
            geoms, field, what = _quadkey_tiles(df["quadkey"]), "quadkey", "quadkey"
    else:
        gdf = read_vector(path, limit=limit)
        df, geoms = pd.DataFrame(gdf.drop(columns="geometry")), gdf.geometry.to_numpy()
        field, what = "geometry", "polygon"
        missing = [c for c in _OOKLA_USED if c not in df.columns]
        if missing:
            raise DataFileError(path, f"lacks the Ookla column(s) {', '.join(missing)}; found "
                                      f"{', '.join(df.columns)}.")
        if len(df) == 0:
            raise DataFileError(path, "has no tiles.")
    unreadable = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    centre = shapely.centroid(geoms)
    x, y = shapely.get_x(centre), shapely.get_y(centre)
    x0, y0, x1, y1 = _VN_BBOX
    with np.errstate(invalid="ignore"):
        keep = unreadable | ((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
    df, geoms, unreadable = df.loc[keep].reset_index(drop=True), geoms[keep], unreadable[keep]
    named = (lambda i: f" (quadkey {df['quadkey'].iloc[i]})") if "quadkey" in df.columns else (lambda i: "")
    problems: list[str] = []
    total = 0
    for col in _OOKLA_USED:
        raw = df[col].astype(str)
        vals = numbers(raw, "float")
        bad = np.flatnonzero((vals.isna() | (vals < 0)).to_numpy())
        total += len(bad)
        problems += [f"tile {i + 1}, field {col}: {raw.iloc[i]!r} is not a number 0 or more{named(i)}"
                     for i in bad[:50]]
        df[col] = vals
    empty = np.flatnonzero(unreadable)
    total += len(empty)
    problems += [f"tile {i + 1}, field {field}: not a {what}{named(i)}" for i in empty[:50]]
    _raise(path, problems, total, "Download the tiles again.")
    if len(df) == 0:
        raise DataFileError(path, "has no tile over Vietnam.")
    return gpd.GeoDataFrame(df[list(_OOKLA_USED)], geometry=geoms, crs=DISPLAY_CRS)


def ookla_footprint(path: Path, entry: dict, limit: int | None = None) -> tuple[Footprint, list[str]]:
    """The tiles reaching the entry's download threshold (Mb/s), with enough tests, as a footprint."""
    tiles = read_ookla(path, limit)
    threshold = float(entry["min_download_mbps"]) * 1000
    min_tests = int(entry.get("min_tests", 1))
    hit = (tiles["avg_d_kbps"] >= threshold) & (tiles["tests"] >= min_tests)
    notes = [f"{int(hit.sum()):,} of {len(tiles):,} tiles over Vietnam reach {entry['min_download_mbps']} Mb/s "
             f"with at least {min_tests} test(s)"]
    return Footprint(tiles.geometry[hit.to_numpy()].reset_index(drop=True), operator=str(entry["operator"]),
                     technology=str(entry["technology"]), file=entry["file"], provenance="measured",
                     as_of=str(entry["as_of"])), notes
