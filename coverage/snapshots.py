"""Snapshots: built results stores kept side by side, each dated by the as-of date of its inputs.

A snapshot is a frozen copy of a results store (hard links where the file system allows, else a
copy) under ``<state folder>/snapshots/``, plus a row in the database (:class:`Snapshot`) saying
which series it belongs to and what date it stands for. The copy is needed because a store is
a link to a version folder that its next build deletes.

* **series**: the scenario's name unless given (the demo's synthetic history is one series, a
  ministry's quarterly reports another); charts never mix series.
* **as-of date**: the scenario's ``as_of``; else the latest ``as_of`` of the inputs that feed
  its coverage layers; never the build time (a store built today from June's reports stands
  for June). Without either, registration is refused unless a date is given.
* Re-registering the same (series, as-of) replaces the earlier snapshot in one transaction (its
  id, and so any challenge filed against it, is kept); its old copy is removed only after the
  database has the new one.

Figures over time are read per snapshot from its province tables. A snapshot of an older store
that has only the 63-province tables is re-expressed in the 34-province scheme through the
registry's province crosswalk (every old province lies wholly inside one new province, so the
counts add up exactly; percentages and gaps are recomputed from the sums).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import tempfile
import unicodedata
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coverage import db, engine as cov_engine, store
from coverage.models import Snapshot, utcnow
from coverage.progress import NATION
from coverage.targets import Target, TargetSet, VillageRule
from geodata import boundaries
from geodata.errors import VnbbError
from geodata.registry import Registry, load_registry
from geodata.settings import state_dir

SNAPSHOTS = "snapshots"  # folder of the frozen copies, inside the state folder
CHANGE_GAINED, CHANGE_LOST = "gained", "lost"
_VILLAGE_COLUMNS = ["village_id", "name", "commune_code", "commune_34", "province_63", "province_34",
                    "households", "lon", "lat"]


class SnapshotError(VnbbError):
    """A snapshot cannot be registered, found or read (the message says why)."""


# -- dates and names ------------------------------------------------------------------------
def as_of_of(manifest: dict) -> dt.date:
    """The date a store stands for: the scenario's ``as_of``, else the latest ``as_of`` of the
    inputs feeding its coverage layers. Never the build time."""
    scenario = manifest.get("scenario", {})
    stated = _date(scenario.get("as_of"))
    if stated is not None:
        return stated
    dates = [_date(src.get("as_of")) for sources in manifest.get("layer_sources", {}).values() for src in sources]
    dates = [d for d in dates if d is not None]
    if not dates:
        raise SnapshotError(f"the store of scenario {scenario.get('name') or scenario.get('folder') or '?'} states "
                            "no as-of date (no `as_of` in scenario.toml, none on its coverage sources); "
                            "give one (`--as-of YYYY-MM-DD`).")
    return max(dates)


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.date):
        return value if not isinstance(value, dt.datetime) else value.date()
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def series_of(manifest: dict) -> str:
    """The default series of a store: its scenario's name, else its scenario folder's name."""
    scenario = manifest.get("scenario", {})
    name = scenario.get("name") or Path(str(scenario.get("folder") or "scenario")).name
    return str(name)[:200]


def _slug(series: str) -> str:
    """A folder name for a series: ASCII letters and digits, plus a hash that keeps series apart."""
    plain = unicodedata.normalize("NFKD", series.replace("đ", "d").replace("Đ", "D"))
    plain = re.sub(r"[^a-z0-9]+", "-", plain.encode("ascii", "ignore").decode().lower()).strip("-")[:60]
    return f"{plain or 'series'}-{hashlib.sha256(series.encode()).hexdigest()[:8]}"


def snapshots_root() -> Path:
    return state_dir() / SNAPSHOTS


def path_of(snap: Snapshot) -> Path:
    """The frozen store of a snapshot (paths under the state folder are stored relative to it,
    so a state folder can move)."""
    path = Path(snap.store_path)
    return path if path.is_absolute() else state_dir() / path


# -- registering ----------------------------------------------------------------------------
def register(store_dir: Path | str, series: str | None = None, as_of: dt.date | str | None = None,
             label: str | None = None, actor: str = "vnbb", engine: Engine | None = None) -> Snapshot:
    """Keep a built store as the snapshot of its (series, as-of date); returns the snapshot row.

    The store is copied (hard links where possible) into the state folder first; the database
    row and its audit entry are written in one transaction, replacing an earlier snapshot of
    the same series and date; the earlier copy is removed after that commits. On any failure
    the new copy is removed and the earlier snapshot stays as it was.
    """
    source = Path(store_dir)
    manifest = store.read_manifest(source)
    series = (series or series_of(manifest)).strip()
    if not series:
        raise SnapshotError("a snapshot needs a series name")
    day = _date(as_of) if as_of is not None else as_of_of(manifest)
    if day is None:
        raise SnapshotError(f"as-of date {as_of!r} is not a date like 2024-12-31")
    raw = (source / "manifest.json").read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    rel = Path(SNAPSHOTS) / _slug(series) / f"{day.isoformat()}-{sha[:12]}"
    target = state_dir() / rel
    engine = engine or db.connect()
    created = _freeze(source.resolve(), target)
    built_at = _datetime(manifest.get("built_at")) or utcnow()
    values = {"label": (label or _default_label(manifest, day))[:200], "synthetic": bool(
        manifest.get("scenario", {}).get("synthetic")), "store_path": rel.as_posix(), "manifest_sha256": sha,
        "built_at": built_at, "registered_at": utcnow(), "summary": summary(target, manifest)}
    old_path: Path | None = None
    try:
        for attempt in (1, 2):
            try:
                old_path, snap = _upsert(engine, series, day, values, actor, source, sha)
                break
            except sa.exc.IntegrityError:  # registered by someone else at the same moment: replace theirs
                if attempt == 2:
                    raise
    except sa.exc.SQLAlchemyError as exc:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        raise db.DatabaseError(f"cannot register the snapshot: {exc}") from exc
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        raise
    if old_path is not None and old_path.resolve() != target.resolve():
        shutil.rmtree(old_path, ignore_errors=True)
    return snap


def _upsert(engine: Engine, series: str, day: dt.date, values: dict, actor: str, source: Path,
            sha: str) -> tuple[Path | None, Snapshot]:
    """Insert or replace the row of (series, day) with its audit entry, in one transaction."""
    old_path: Path | None = None
    with db.session(engine) as s:
        snap = s.scalars(sa.select(Snapshot).where(Snapshot.series == series, Snapshot.as_of == day)
                         .with_for_update()).one_or_none()
        if snap is None:
            snap = Snapshot(series=series, as_of=day, **values)
            s.add(snap)
            s.flush()
            action = "snapshot.register"
        elif snap.manifest_sha256 == sha and snap.label == values["label"] and path_of(snap) == state_dir() / \
                values["store_path"]:
            s.expunge(snap)
            return None, _aware(snap)  # the same results registered again (a rebuild that reused them)
        else:
            old_path = path_of(snap)
            for key, value in values.items():
                setattr(snap, key, value)
            s.flush()
            action = "snapshot.replace"
        db.audit(s, actor, action, "snapshot", snap.id, series=series, as_of=day.isoformat(),
                 store=str(source), manifest_sha256=sha)
    return old_path, _aware(snap)


def _aware(snap: Snapshot) -> Snapshot:
    """Times in UTC with their zone on every backend (SQLite hands them back naive)."""
    for field in ("built_at", "registered_at"):
        value = getattr(snap, field)
        if value is not None and value.tzinfo is None:
            setattr(snap, field, value.replace(tzinfo=dt.timezone.utc))
    return snap


def _default_label(manifest: dict, day: dt.date) -> str:
    name = manifest.get("scenario", {}).get("name") or "snapshot"
    return f"{name}, {day.isoformat()}"


def _datetime(value: object) -> dt.datetime | None:
    try:
        out = dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    return out.replace(tzinfo=dt.timezone.utc) if out is not None and out.tzinfo is None else out


def _freeze(source: Path, target: Path) -> bool:
    """Copy a store folder to ``target`` (hard links where possible) atomically; False when an
    identical copy (same manifest) is already there."""
    if (target / "manifest.json").is_file():
        return False
    if not (source / "manifest.json").is_file():
        raise SnapshotError(f"{source} is not a results store (no manifest.json)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        for item in source.iterdir():
            if item.is_file():
                _link_or_copy(item, tmp / item.name)
        tmp.chmod(0o755)
        os.replace(tmp, target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if (target / "manifest.json").is_file():  # someone else froze the same store meanwhile
            return False
        raise SnapshotError(f"cannot copy the store {source} to {target}: {exc}") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return True


def _link_or_copy(src: Path, dst: Path) -> None:
    """A hard link (store files are never modified in place: a build writes new ones), else a copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def summary(store_dir: Path, manifest: dict) -> dict:
    """What the snapshot list shows without opening the store: national figures (63 scheme) of
    every all-operator layer, the layers, the schemes held, and where it came from."""
    out: dict = {"scenario": manifest.get("scenario", {}).get("name"),
                 "scenario_folder": manifest.get("scenario", {}).get("folder"),
                 "layers": manifest.get("layers", []),
                 "schemes": [s for s in ("63", "34") if (store_dir / f"provinces_{s}.parquet").is_file()]}
    try:
        table = _province_counts(store_dir, "63")
    except (OSError, SnapshotError, VnbbError):
        return out
    hh, vil = float(table["households"].sum()), float(table["villages"].sum())
    out["households"], out["villages"] = hh, vil
    for layer in [k for k in manifest.get("layers", []) if k.endswith("__all")]:
        if f"hh_cov__{layer}" in table:
            out[f"hh_pct__{layer}"] = round(100 * float(table[f"hh_cov__{layer}"].sum()) / hh, 4) if hh else None
            out[f"vil_pct__{layer}"] = round(100 * float(table[f"cov__{layer}"].sum()) / vil, 4) if vil else None
    return out


# -- listing and removing -------------------------------------------------------------------
def list_snapshots(series: str | None = None, engine: Engine | None = None) -> list[Snapshot]:
    """Snapshots (of one series, or all), by series and as-of date."""
    with db.session(engine) as s:
        q = sa.select(Snapshot).order_by(Snapshot.series, Snapshot.as_of)
        if series is not None:
            q = q.where(Snapshot.series == series)
        rows = list(s.scalars(q))
        s.expunge_all()
    return [_aware(r) for r in rows]


def series_names(engine: Engine | None = None) -> list[str]:
    """Every series with at least one snapshot."""
    with db.session(engine) as s:
        return list(s.scalars(sa.select(Snapshot.series).distinct().order_by(Snapshot.series)))


def get(snapshot_id: int, engine: Engine | None = None) -> Snapshot:
    with db.session(engine) as s:
        snap = s.get(Snapshot, snapshot_id)
        if snap is not None:
            s.expunge(snap)
    if snap is None:
        raise SnapshotError(f"there is no snapshot {snapshot_id}; `vnbb snapshot list` shows them.")
    return _aware(snap)


def find(series: str, as_of: dt.date | str, engine: Engine | None = None) -> Snapshot:
    day = _date(as_of)
    with db.session(engine) as s:
        snap = s.scalars(sa.select(Snapshot).where(Snapshot.series == series, Snapshot.as_of == day)).one_or_none()
        if snap is not None:
            s.expunge(snap)
    if snap is None:
        raise SnapshotError(f"series {series!r} has no snapshot as of {as_of}.")
    return _aware(snap)


def remove(snapshot_id: int, actor: str = "vnbb", engine: Engine | None = None) -> Snapshot:
    """Delete a snapshot's row (with an audit entry), then its frozen copy."""
    with db.session(engine) as s:
        snap = s.get(Snapshot, snapshot_id)
        if snap is None:
            raise SnapshotError(f"there is no snapshot {snapshot_id}; `vnbb snapshot list` shows them.")
        path = path_of(snap)
        db.audit(s, actor, "snapshot.remove", "snapshot", snap.id, series=snap.series,
                 as_of=snap.as_of.isoformat(), manifest_sha256=snap.manifest_sha256)
        s.delete(snap)
    shutil.rmtree(path, ignore_errors=True)
    return snap


# -- reading --------------------------------------------------------------------------------
def manifest_of(snap: Snapshot) -> dict:
    return store.read_manifest(path_of(snap))


def read_table(snap: Snapshot, level: str = "province", scheme: str = "63",
               registry: Registry | None = None) -> gpd.GeoDataFrame:
    """A unit table of a snapshot; a 34-province table missing from an older store is
    re-expressed from its 63-province table through the crosswalk."""
    path = path_of(snap)
    if (path / f"{store.LEVELS[(level, scheme)]}.parquet").is_file():
        return store.read_table(path, level, scheme)
    if (level, scheme) != ("province", "34"):
        raise SnapshotError(f"snapshot {snap.id} ({snap.series}, {snap.as_of}) has no {level} table in the "
                            f"{scheme} scheme, and only provinces can be re-expressed from the 63 scheme.")
    registry = registry or load_registry()
    manifest = manifest_of(snap)
    counts = _reexpress(store.read_table(path, "province", "63").drop(columns="geometry"), registry)
    layers = [c.removeprefix("hh_cov__") for c in counts if c.startswith("hh_cov__")]
    with np.errstate(invalid="ignore", divide="ignore"):
        for k in layers:
            counts[f"hh_pct__{k}"] = 100 * counts[f"hh_cov__{k}"] / counts["households"].where(counts["households"] > 0)
            counts[f"vil_pct__{k}"] = 100 * counts[f"cov__{k}"] / counts["villages"].where(counts["villages"] > 0)
    table = cov_engine.gaps(counts, _targets(manifest))
    units = registry.units("34", "province")
    table = table.merge(units[["code", "name", "parent_code", "type"]], on="code", how="left")
    shapes = boundaries.load("34", "province")
    table = shapes[["code", "geometry", "source"]].rename(columns={"source": "boundary_source"}).merge(
        table, on="code", how="right")
    table["reexpressed_from"] = "63"
    return gpd.GeoDataFrame(table, geometry="geometry", crs=shapes.crs)


def _reexpress(table63: pd.DataFrame, registry: Registry) -> pd.DataFrame:
    """Counts of 63-scheme provinces summed into their 34-scheme provinces."""
    counts = [c for c in table63.columns if c in ("households", "villages") or c.startswith(("hh_cov__", "cov__"))]
    new = registry.new_province_of(table63["code"]).to_numpy()
    if pd.isna(new).any():
        missing = table63.loc[pd.isna(new), "code"].tolist()
        raise SnapshotError(f"the crosswalk ({registry.crosswalk_source}) has no 34-scheme province for {missing}")
    out = table63[counts].astype(float).groupby(new).sum()
    out.index.name = "code"
    return out.reset_index()


def _targets(manifest: dict) -> TargetSet:
    """The manifest's targets as the engine's TargetSet (to recompute gaps)."""
    items = []
    for t in manifest.get("targets", []):
        fields = {k: t[k] for k in Target.__dataclass_fields__ if k in t}
        fields["deadline"] = dt.date.fromisoformat(str(t["deadline"])[:10])
        fields["technologies"] = tuple(t.get("technologies", ()))
        fields.setdefault("min_speed_mbps", {})
        items.append(Target(**fields))
    return TargetSet(tuple(items), VillageRule(), str(manifest.get("targets_file", "")))


def targets_of(snap: Snapshot) -> list[Target]:
    """The targets a snapshot was built against."""
    return list(_targets(manifest_of(snap)).targets)


def _province_counts(path: Path, scheme: str, registry: Registry | None = None) -> pd.DataFrame:
    """Province counts (code, name, households, villages, hh_cov__*, cov__*) of a store folder,
    re-expressed from the 63 scheme when the store lacks the 34 one; only the columns needed."""
    file = path / f"provinces_{scheme}.parquet"
    if not file.is_file():
        if scheme != "34" or not (path / "provinces_63.parquet").is_file():
            raise SnapshotError(f"{path} has no province table in the {scheme} scheme")
        registry = registry or load_registry()
        counts = _reexpress(_province_counts(path, "63").drop(columns="name"), registry)
        names = registry.units("34", "province").set_index("code")["name"]
        counts.insert(1, "name", counts["code"].map(names).to_numpy())
        return counts
    names = pq.read_schema(file).names
    cols = ["code", "name", "households", "villages"] + [c for c in names if c.startswith(("hh_cov__", "cov__"))]
    table = pd.read_parquet(file, columns=[c for c in cols if c in names])
    if "name" not in table:
        table["name"] = table["code"]
    return table


def figures(snaps: list[Snapshot], scheme: str = "63", registry: Registry | None = None) -> pd.DataFrame:
    """Counts of every province and of the whole country (code ``VN``) in every snapshot.

    One row per snapshot and unit: snapshot_id, as_of, code, name, households, villages and the
    ``hh_cov__<layer>`` / ``cov__<layer>`` counts of every layer; a layer a snapshot lacks (an
    operator absent from its inputs) counts 0 covered. Oldest snapshot first.
    """
    parts = []
    for snap in sorted(snaps, key=lambda s: s.as_of):
        table = _province_counts(path_of(snap), scheme, registry)
        count_cols = [c for c in table.columns if c not in ("code", "name")]
        nation = table[count_cols].sum().to_frame().T
        nation.insert(0, "code", NATION)
        nation.insert(1, "name", "")
        both = pd.concat([table, nation], ignore_index=True)
        both.insert(0, "as_of", pd.Timestamp(snap.as_of))
        both.insert(0, "snapshot_id", snap.id)
        parts.append(both)
    if not parts:
        return pd.DataFrame(columns=["snapshot_id", "as_of", "code", "name", "households", "villages"])
    out = pd.concat(parts, ignore_index=True)
    layer_cols = [c for c in out.columns if c.startswith(("hh_cov__", "cov__"))]
    out[layer_cols] = out[layer_cols].astype(float).fillna(0.0)
    return out


# -- what changed ---------------------------------------------------------------------------
def _villages(snap: Snapshot, layers: list[str] | None) -> pd.DataFrame:
    file = path_of(snap) / "villages.parquet"
    if not file.is_file():
        raise SnapshotError(f"snapshot {snap.id} ({snap.series}, {snap.as_of}) has no villages.parquet")
    names = pq.read_schema(file).names
    cov = [c for c in names if c.startswith("cov__") and (layers is None or c.removeprefix("cov__") in layers)]
    return pd.read_parquet(file, columns=[c for c in _VILLAGE_COLUMNS if c in names] + cov)


def changes(before: Snapshot, after: Snapshot, layers: list[str] | None = None) -> gpd.GeoDataFrame:
    """Villages newly covered or no longer covered between two snapshots, per layer.

    One row per (village, layer) that changed: the village's id, name, commune and province
    codes (both schemes), households, position (as in ``after``), ``layer``, ``technology``,
    ``operator`` and ``change`` (``gained`` or ``lost``). Villages listed in only one of the two
    snapshots are not compared (see :func:`village_list_changes`); a layer absent from one of
    them counts as covering nothing there.
    """
    a, b = _villages(before, layers), _villages(after, layers)
    keys = sorted({c.removeprefix("cov__") for c in (*a.columns, *b.columns) if c.startswith("cov__")})
    if layers is not None:
        keys = [k for k in keys if k in layers]
    common = b[b["village_id"].isin(a["village_id"])].reset_index(drop=True)
    a = a.set_index("village_id").reindex(common["village_id"])
    parts = []
    for key in keys:
        was = a[f"cov__{key}"].fillna(False).to_numpy(bool) if f"cov__{key}" in a else np.zeros(len(common), bool)
        now = common[f"cov__{key}"].to_numpy(bool) if f"cov__{key}" in common else np.zeros(len(common), bool)
        moved = np.flatnonzero(was != now)
        if not len(moved):
            continue
        tech, op = key.split("__", 1)
        part = common.loc[moved, [c for c in _VILLAGE_COLUMNS if c in common]].copy()
        part["layer"], part["technology"], part["operator"] = key, tech, op
        part["change"] = np.where(now[moved], CHANGE_GAINED, CHANGE_LOST)
        parts.append(part)
    cols = [c for c in _VILLAGE_COLUMNS if c in common] + ["layer", "technology", "operator", "change"]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    geometry = gpd.points_from_xy(out["lon"].astype(float), out["lat"].astype(float)) if len(out) else []
    return gpd.GeoDataFrame(out, geometry=geometry, crs=4326)


def village_list_changes(before: Snapshot, after: Snapshot) -> dict[str, int]:
    """How many villages only one of two snapshots lists (their village lists differ)."""
    a = set(_villages(before, [])["village_id"])
    b = set(_villages(after, [])["village_id"])
    return {"only_before": len(a - b), "only_after": len(b - a), "both": len(a & b)}


def change_summary(changed: pd.DataFrame, scheme: str = "63", by_province: bool = True) -> pd.DataFrame:
    """Villages (and their households) gained and lost per layer, per province of a scheme
    (``by_province``) or for the whole set.

    Columns: [province,] layer, technology, operator, gained, lost, net, households_gained,
    households_lost.
    """
    keys = ([f"province_{scheme}"] if by_province else []) + ["layer", "technology", "operator"]
    if changed.empty:
        return pd.DataFrame(columns=[*keys, "gained", "lost", "net", "households_gained", "households_lost"]
                            ).rename(columns={f"province_{scheme}": "province"})
    df = pd.DataFrame(changed.drop(columns="geometry", errors="ignore"))
    gained = (df["change"] == CHANGE_GAINED).to_numpy()
    hh = df["households"].to_numpy(float)
    df = df[keys].assign(gained=gained.astype(int), lost=(~gained).astype(int),
                         households_gained=np.where(gained, hh, 0.0), households_lost=np.where(gained, 0.0, hh))
    out = df.groupby(keys, sort=True, dropna=False).sum().reset_index()
    out.insert(len(keys) + 2, "net", out["gained"] - out["lost"])
    return out.rename(columns={f"province_{scheme}": "province"})
