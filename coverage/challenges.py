"""Challenges: a province or an operator says a figure is wrong, and a reviewer decides.

National maps abroad are trusted because anyone affected can challenge a figure. Here a
challenge names one unit of a results store and what is wrong with it:

* ``not_covered``: a village counted as covered by a layer (technology, operator) is not;
* ``covered``: a village counted as not covered by one operator's 4G, 5G or fixed network is;
* ``missing_village``: a village missing from the register (its commune, name, point and,
  optionally, households);
* ``wrong_location``: a village's point is wrong (the right point is given).

A challenge is filed (checked against the store: the unit and the layer exist, the point lies in
Vietnam and in the right commune), then withdrawn by its filer or decided (accepted or
rejected, with a note) by a reviewer. Accepted challenges are applied by
:mod:`coverage.corrections` as a layer on top of the results, never editing them.

Decisions use optimistic concurrency: a decision is one conditional ``UPDATE ... WHERE id = ?
AND status = 'open' [AND version = ?]``, and the row count says whether it won. Two reviewers
deciding the same challenge at once cannot both win, on SQLite or on PostgreSQL; the loser gets
:class:`ChallengeConflict` saying who decided first. Every action writes an audit entry in the
same transaction as its change.

Evidence files are kept content-addressed (by SHA-256) under ``<state folder>/evidence/``.
Until sign-in exists, who files and who reviews is what they type.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from pyproj import Transformer
from sqlalchemy.engine import Engine

from coverage import access, db, store
from coverage import export as gis
from coverage.access import LOCAL, Principal
from coverage.engine import TECHS, layer_key
from coverage.models import CHALLENGE_KINDS, CHALLENGE_STATUSES, Challenge, Snapshot, utcnow
from geodata.crs import AREA_CRS, DISPLAY_CRS
from geodata.errors import VnbbError
from geodata.settings import state_dir

DECISIONS = ("accepted", "rejected")
COVERED_TECHS = ("4G", "5G", "fixed")  # a "covered" claim names the network that reaches the village
EXPORT_FORMATS = ("csv", "geojson", "gpkg", "xlsx")
EVIDENCE_SUFFIXES = (".pdf", ".jpg", ".jpeg", ".png", ".txt", ".csv", ".xlsx", ".kml", ".kmz", ".geojson",
                     ".gpkg", ".zip")
EVIDENCE_LIMIT_ENV = "VNBB_MAX_EVIDENCE_MB"
_EVIDENCE_DEFAULT_MB = 20.0
# Commune (and country) outlines are approximate: a point this close outside still counts.
TOLERANCE_M = {"approximate": 2000.0, "official": 200.0}
_TO_METRES = Transformer.from_crs(DISPLAY_CRS, AREA_CRS, always_xy=True)
_TEXT_LIMIT = 5000


class ChallengeError(VnbbError):
    """Something about a challenge that cannot be done as asked."""


class ChallengeInputError(ChallengeError):
    """A challenge that cannot be filed: ``problems`` lists ``(field, what is wrong)``, every one."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("challenge not filed:\n" + "\n".join(f"  - {f}: {m}" for f, m in self.problems))

    @property
    def fields(self) -> list[str]:
        return [f for f, _ in self.problems]


class ChallengeNotFound(ChallengeError):
    """No challenge has that id."""


class ChallengeNotAllowed(ChallengeError):
    """The action is not open to this person, or not in this state (e.g. withdrawing a decided one)."""


class ChallengeConflict(ChallengeError):
    """Someone else changed the challenge first (typically: another reviewer decided it)."""


# -- what a challenge is checked against ------------------------------------------------------
@dataclass(frozen=True)
class StoreUnits:
    """The parts of a results store a challenge is checked against, read once."""

    path: str
    manifest: dict
    villages: pd.DataFrame          # index village_id: name, commune_code, commune_34, province_63/34, lon, lat, households
    communes: gpd.GeoDataFrame      # index code (63 scheme): name, parent_code, households, province_34, geometry
    provinces: shapely.STRtree      # the 63 provinces' outlines, for "in Vietnam"
    boundary_source: str            # of the commune outlines: approximate or official

    @property
    def layers(self) -> list[str]:
        return list(self.manifest.get("layers", []))

    @property
    def tolerance_m(self) -> float:
        return TOLERANCE_M.get(self.boundary_source, TOLERANCE_M["approximate"])


def load_units(store_dir: Path | str) -> StoreUnits:
    """Read what filing needs from a store (villages, 63-scheme communes, province outlines)."""
    store_dir = Path(store_dir)
    manifest = store.read_manifest(store_dir)
    villages = pd.read_parquet(store_dir / "villages.parquet", columns=[
        "village_id", "name", "commune_code", "commune_34", "province_63", "province_34", "lon", "lat",
        "households"]).set_index("village_id")
    communes = store.read_table(store_dir, "commune", "63")[["code", "name", "parent_code", "households",
                                                             "boundary_source", "geometry"]]
    to34 = villages.groupby("province_63")["province_34"].first()
    communes = communes.assign(province_34=communes["parent_code"].map(to34).fillna("")).set_index("code")
    provinces = store.read_table(store_dir, "province", "63")
    source = str(communes["boundary_source"].dropna().iloc[0]) if communes["boundary_source"].notna().any() \
        else "approximate"
    return StoreUnits(str(store_dir), manifest, villages, communes,
                      shapely.STRtree(provinces.geometry.dropna().to_numpy()), source)


def default_series(manifest: dict) -> str:
    """The series a store's challenges belong to: its scenario's name (the same scenario rebuilt
    keeps its challenges), the same series its snapshots form."""
    from coverage.snapshots import series_of

    return series_of(manifest)


# -- evidence files ---------------------------------------------------------------------------
def evidence_dir() -> Path:
    return state_dir() / "evidence"


def evidence_path(sha256: str) -> Path:
    """Where the evidence file with this SHA-256 is kept."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise ChallengeError(f"not an evidence checksum: {sha256!r}")
    return evidence_dir() / sha256[:2] / sha256


def evidence_limit_mb() -> float:
    """The evidence file size limit: ``VNBB_MAX_EVIDENCE_MB``, 20 MB by default."""
    return float(os.environ.get(EVIDENCE_LIMIT_ENV, _EVIDENCE_DEFAULT_MB))


def evidence_limit_bytes() -> int:
    return int(evidence_limit_mb() * 1024 * 1024)


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} kB"


def _evidence_problems(name: str, size: int) -> list[tuple[str, str]]:
    problems = []
    if size > evidence_limit_bytes():
        problems.append(("evidence_file", f"{name} is {_size(size)}; the limit is {evidence_limit_mb():g} MB "
                                          f"({EVIDENCE_LIMIT_ENV})"))
    if Path(name).suffix.lower() not in EVIDENCE_SUFFIXES:
        problems.append(("evidence_file", f"{name}: accepted file types are {', '.join(EVIDENCE_SUFFIXES)}"))
    if size == 0:
        problems.append(("evidence_file", f"{name} is empty"))
    return problems


def _keep_evidence(content: bytes) -> str:
    """Write the evidence once under its checksum (atomically) and return the checksum."""
    digest = hashlib.sha256(content).hexdigest()
    path = evidence_path(digest)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{digest[:8]}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    return digest


# -- filing -----------------------------------------------------------------------------------
def _clean(text: object) -> str:
    """A one-line field (name, code) with its spaces normalised."""
    return " ".join(str(text or "").split())


def _metres_outside(geom: shapely.Geometry, lon: float, lat: float) -> float:
    """Distance in metres from a point to a polygon (0 inside)."""
    point = shapely.Point(*_TO_METRES.transform(lon, lat))
    shape = shapely.transform(geom, lambda xy: np.column_stack(_TO_METRES.transform(xy[:, 0], xy[:, 1])))
    return float(shapely.distance(point, shape))


def _point_problems(units: StoreUnits, lon: float | None, lat: float | None, required: bool,
                    commune: str | None) -> list[tuple[str, str]]:
    if lon is None and lat is None:
        return [("lon", "coordinates are required for this kind of challenge (lon and lat)")] if required else []
    problems = []
    for name, value in (("lon", lon), ("lat", lat)):
        if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
            problems.append((name, f"{value!r} is not a number (give both lon and lat, in degrees, EPSG:4326)"))
    if problems:
        return problems
    if not (102.0 <= lon <= 117.5 and 8.0 <= lat <= 23.5):
        return [("lon", f"the point ({lon}, {lat}) lies outside Vietnam (lon 102-117.5, lat 8-23.5); are lon and "
                        "lat swapped?")]
    degrees = units.tolerance_m / 90_000  # a conservative degree span for the tolerance
    if not len(units.provinces.query(shapely.Point(lon, lat), predicate="dwithin", distance=degrees)):
        problems.append(("lon", f"the point ({lon}, {lat}) lies outside Vietnam's provinces"))
    if commune is not None and commune in units.communes.index:
        row = units.communes.loc[commune]
        if row.geometry is not None:
            off = _metres_outside(row.geometry, lon, lat)
            if off > units.tolerance_m:
                problems.append(("lon", f"the point ({lon}, {lat}) lies {off / 1000:.1f} km outside commune {commune} "
                                        f"({row['name']}); its outline is {units.boundary_source}, so up to "
                                        f"{units.tolerance_m / 1000:g} km is allowed"))
    return problems


def _layer_problems(units: StoreUnits, kind: str, technology: str, operator: str) -> list[tuple[str, str]]:
    problems = []
    if kind == "covered":
        if technology not in COVERED_TECHS:
            problems.append(("technology", f"a 'covered' challenge names the network that reaches the village: one of "
                                           f"{', '.join(COVERED_TECHS)}, not {technology!r}"))
        if operator == "all":
            problems.append(("operator", "a 'covered' challenge names the operator whose network reaches the village"))
    elif technology not in TECHS:
        problems.append(("technology", f"{technology!r} is not one of {', '.join(TECHS)}"))
    if not problems and layer_key(technology, operator) not in units.layers:
        ops = sorted({k.split("__", 1)[1] for k in units.layers if k.startswith(f"{technology}__")})
        problems.append(("operator", f"the store has no {technology} layer for operator {operator!r}; it has "
                                     f"{', '.join(ops) or 'none'}"))
    return problems


def _unit(units: StoreUnits, kind: str, unit_code: str, unit_name: str, households: int | None
          ) -> tuple[list[tuple[str, str]], str, str | None, str | None, str | None]:
    """Problems with the challenged unit, and its name, commune and provinces (63, 34)."""
    problems: list[tuple[str, str]] = []
    commune = province = province_34 = None
    if kind == "missing_village":
        if unit_code not in units.communes.index:
            problems.append(("unit_code", f"{unit_code!r} is not a commune (63-unit scheme code) of the store"))
        else:
            row = units.communes.loc[unit_code]
            commune, province, province_34 = unit_code, row["parent_code"], row["province_34"]
            if households is not None and households > row["households"]:
                problems.append(("households", f"{households} is more than commune {unit_code}'s "
                                               f"{row['households']:,.0f} households"))
        if not unit_name:
            problems.append(("unit_name", "give the missing village's name"))
        elif commune is not None:
            same = units.villages[(units.villages["commune_code"] == commune)
                                  & (units.villages["name"].str.casefold() == unit_name.casefold())]
            if len(same):
                problems.append(("unit_name", f"commune {commune} already has a village named {unit_name!r} "
                                              f"({same.index[0]}); challenge that village instead"))
    elif kind in CHALLENGE_KINDS:
        if unit_code not in units.villages.index:
            problems.append(("unit_code", f"{unit_code!r} is not a village of the store"))
        else:
            row = units.villages.loc[unit_code]
            commune, province, province_34 = row["commune_code"], row["province_63"], row["province_34"]
            unit_name = str(row["name"])  # the register's name, whatever was typed
    return problems, unit_name, commune, province, province_34


def _read_evidence(evidence: tuple[str, bytes] | Path | str | None
                   ) -> tuple[str | None, bytes | None, list[tuple[str, str]]]:
    """The evidence file's name and content (None when refused or absent), and its problems."""
    if evidence is None:
        return None, None, []
    if isinstance(evidence, tuple):
        name, content = Path(str(evidence[0])).name, bytes(evidence[1])
        problems = _evidence_problems(name, len(content))
        return name, (None if problems else content), problems
    path = Path(evidence)
    if not path.is_file():
        return path.name, None, [("evidence_file", f"{path} does not exist")]
    problems = _evidence_problems(path.name, path.stat().st_size)
    return path.name, (None if problems else path.read_bytes()), problems


def file(units: StoreUnits, *, series: str, filed_by: str, organisation: str, kind: str, unit_code: str,
         reason: str, technology: str = "any", operator: str = "all", unit_name: str = "", claim: str = "",
         evidence_text: str = "", evidence: tuple[str, bytes] | Path | str | None = None,
         lon: float | None = None, lat: float | None = None, households: int | None = None,
         snapshot_id: int | None = None, engine: Engine | None = None, who: Principal = LOCAL,
         draft: bool = False) -> Challenge:
    """File a challenge after checking every field against the store; all problems are reported
    at once (:class:`ChallengeInputError`).

    ``who`` is the signed-in person: their name and province or operator replace the typed ones,
    and :func:`coverage.access.check_challenge` limits what they may challenge (a province its
    own units, an operator its own network). A ``draft`` is seen only by its filer until
    :func:`submit`.

    ``unit_code`` is a village id of the store, except for ``missing_village``: the 63-scheme
    commune the village belongs to, with the village's name in ``unit_name``. ``technology`` and
    ``operator`` name the layer of a ``not_covered``/``covered`` claim. ``evidence`` is a file
    (a path, or a ``(name, bytes)`` pair from an upload).
    """
    engine = engine or db.connect()
    if who.role != "local":
        filed_by, organisation = who.name, who.province or who.operator or who.role
    series, filed_by, organisation = _clean(series), _clean(filed_by), _clean(organisation)
    unit_code, unit_name = _clean(unit_code), _clean(unit_name)
    technology, operator = _clean(technology) or "any", _clean(operator) or "all"
    reason, claim, evidence_text = str(reason or "").strip(), str(claim or "").strip(), str(evidence_text or "").strip()
    problems: list[tuple[str, str]] = []
    for field, value in (("series", series), ("filed_by", filed_by), ("organisation", organisation),
                         ("reason", reason)):
        if not value:
            problems.append((field, "is required"))
    for field, value in (("reason", reason), ("claim", claim), ("evidence_text", evidence_text)):
        if len(value) > _TEXT_LIMIT:
            problems.append((field, f"is {len(value)} characters long; keep it under {_TEXT_LIMIT}"))
    if kind not in CHALLENGE_KINDS:
        problems.append(("kind", f"{kind!r} is not one of {', '.join(CHALLENGE_KINDS)}"))
    if households is not None and (isinstance(households, bool) or not isinstance(households, (int, np.integer))
                                   or households < 0):
        problems.append(("households", f"{households!r} is not a whole number of households >= 0"))

    unit_problems, unit_name, commune, province, province_34 = _unit(units, kind, unit_code, unit_name, households)
    problems += unit_problems
    if kind in ("not_covered", "covered"):
        problems += _layer_problems(units, kind, technology, operator)
    else:
        technology, operator = "any", "all"  # the claim is about the register, not a layer
    located = kind in ("missing_village", "wrong_location")
    problems += _point_problems(units, lon, lat, required=located, commune=commune if located else None)
    if kind == "wrong_location" and unit_code in units.villages.index and lon is not None and lat is not None:
        row = units.villages.loc[unit_code]
        if abs(row["lon"] - lon) < 1e-6 and abs(row["lat"] - lat) < 1e-6:
            problems.append(("lon", "the point is where the store already has the village"))

    file_name, content, evidence_problems = _read_evidence(evidence)
    problems += evidence_problems
    if not evidence_text and evidence is None and lon is None:
        problems.append(("evidence_text", "give evidence: a text, a file, or coordinates"))

    if snapshot_id is not None or not problems:
        with db.session(engine) as s:
            if snapshot_id is not None and s.get(Snapshot, snapshot_id) is None:
                problems.append(("snapshot_id", f"no snapshot {snapshot_id}"))
            if not problems:
                dup = s.scalar(sa.select(Challenge.id).where(
                    Challenge.series == series, Challenge.status == "open", Challenge.kind == kind,
                    Challenge.unit_code == unit_code, Challenge.technology == technology,
                    Challenge.operator == operator, Challenge.unit_name == unit_name).limit(1))
                if dup is not None:
                    problems.append(("unit_code", f"challenge #{dup} already says the same and is still open"))
    if problems:
        raise ChallengeInputError(problems)
    access.check_challenge(who, province=province if who.scheme == "63" else province_34, scheme=who.scheme,
                           operator=operator)

    digest = _keep_evidence(content) if content is not None else None
    challenge = Challenge(
        series=series, snapshot_id=snapshot_id, filed_by=filed_by, organisation=organisation, filed_at=utcnow(),
        kind=kind, unit_level="commune" if kind == "missing_village" else "village", unit_code=unit_code,
        unit_name=unit_name, province_code=str(province or ""), province_code_34=str(province_34 or ""),
        technology=technology, operator=operator, claim=claim, reason=reason, evidence_text=evidence_text,
        evidence_file=file_name if digest else None, evidence_sha256=digest,
        lon=float(lon) if lon is not None else None, lat=float(lat) if lat is not None else None,
        households=int(households) if households is not None else None, status="draft" if draft else "open",
        version=1)
    with db.session(engine) as s:
        s.add(challenge)
        s.flush()
        db.audit(s, filed_by, "challenge.draft" if draft else "challenge.file", "challenge", challenge.id, series=series, kind=kind,
                 unit_code=unit_code, technology=technology, operator=operator, organisation=organisation,
                 evidence_sha256=digest)
    return challenge


# -- withdrawing and deciding -----------------------------------------------------------------
def get(challenge_id: int, engine: Engine | None = None) -> Challenge:
    """One challenge, or :class:`ChallengeNotFound`."""
    with db.session(engine) as s:
        row = s.get(Challenge, int(challenge_id))
        if row is None:
            raise ChallengeNotFound(f"no challenge #{challenge_id}")
        return row


def _explain(s: sa.orm.Session, challenge_id: int) -> Challenge:
    """The current row after a conditional update matched nothing (raises if there is none)."""
    s.expire_all()
    row = s.get(Challenge, challenge_id)
    if row is None:
        raise ChallengeNotFound(f"no challenge #{challenge_id}")
    return row


def _decided_text(row: Challenge) -> str:
    if row.status == "withdrawn":
        return f"challenge #{row.id} was withdrawn by {row.filed_by} at {_when(row.decided_at)}"
    return f"challenge #{row.id} was already {row.status} by {row.reviewer} at {_when(row.decided_at)}"


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if hasattr(value, "strftime") else str(value)


def submit(challenge_id: int, by: str, engine: Engine | None = None) -> Challenge:
    """Submit a draft: from now on reviewers (and everyone who may list challenges) see it."""
    engine = engine or db.connect()
    by = _clean(by)
    challenge_id = int(challenge_id)
    with db.session(engine) as s:
        done = s.execute(sa.update(Challenge).where(
            Challenge.id == challenge_id, Challenge.status == "draft", Challenge.filed_by == by,
        ).values(status="open", filed_at=utcnow(), version=Challenge.version + 1)
            .execution_options(synchronize_session=False))
        if done.rowcount != 1:
            row = _explain(s, challenge_id)
            if row.filed_by != by:
                raise ChallengeNotAllowed(f"challenge #{challenge_id} can be submitted only by the person who filed it")
            raise ChallengeNotAllowed(f"challenge #{challenge_id} is not a draft (it is {row.status})")
        db.audit(s, by, "challenge.submit", "challenge", challenge_id)
    return get(challenge_id, engine)


def withdraw(challenge_id: int, by: str, note: str = "", engine: Engine | None = None) -> Challenge:
    """Withdraw a challenge: only its filer, and only while it is a draft or open."""
    engine = engine or db.connect()
    by = _clean(by)
    challenge_id = int(challenge_id)
    with db.session(engine) as s:
        done = s.execute(sa.update(Challenge).where(
            Challenge.id == challenge_id, Challenge.status.in_(("draft", "open")), Challenge.filed_by == by,
        ).values(status="withdrawn", decided_at=utcnow(), decision_note=str(note or "").strip(),
                 version=Challenge.version + 1).execution_options(synchronize_session=False))
        if done.rowcount != 1:
            row = _explain(s, challenge_id)
            if row.filed_by != by:
                raise ChallengeNotAllowed(f"challenge #{challenge_id} can be withdrawn only by the person who filed it "
                                          f"({row.filed_by}), not by {by or 'an unnamed person'}")
            raise ChallengeNotAllowed(f"challenge #{challenge_id} is no longer open: {_decided_text(row)}")
        db.audit(s, by, "challenge.withdraw", "challenge", challenge_id, note=note or None)
    return get(challenge_id, engine)


def decide(challenge_id: int, decision: str, reviewer: str, note: str = "", *, expected_version: int | None = None,
           engine: Engine | None = None, who: Principal = LOCAL) -> Challenge:
    """Accept or reject an open challenge.

    ``expected_version`` is the version the reviewer saw: when given, the decision is written
    only if nothing changed since. The write is one conditional UPDATE (no read before it), so of
    two reviewers deciding at once exactly one wins; the other gets :class:`ChallengeConflict`.
    A reviewer cannot decide a challenge they filed. Only the ministry (or the local single user)
    decides; a signed-in reviewer's own name is recorded, whatever was typed.
    """
    engine = engine or db.connect()
    access.check_decide(who)
    if who.role != "local":
        reviewer = who.name
    if decision not in DECISIONS:
        raise ChallengeInputError([("decision", f"{decision!r} is not one of {', '.join(DECISIONS)}")])
    reviewer = _clean(reviewer)
    if not reviewer:
        raise ChallengeInputError([("reviewer", "is required")])
    challenge_id = int(challenge_id)
    with db.session(engine) as s:
        _decide(s, challenge_id, decision, reviewer, str(note or "").strip(), expected_version)
    return get(challenge_id, engine)


def _decide(s: sa.orm.Session, challenge_id: int, decision: str, reviewer: str, note: str,
            expected_version: int | None) -> None:
    """The decision's write and its audit entry, in the caller's transaction."""
    where = [Challenge.id == challenge_id, Challenge.status == "open", Challenge.filed_by != reviewer]
    if expected_version is not None:
        where.append(Challenge.version == int(expected_version))
    done = s.execute(sa.update(Challenge).where(*where).values(
        status=decision, reviewer=reviewer, decided_at=utcnow(), decision_note=note,
        version=Challenge.version + 1).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        row = _explain(s, challenge_id)
        if row.status == "draft":
            raise ChallengeNotAllowed(f"challenge #{challenge_id} is a draft: its filer has not submitted it yet")
        if row.status != "open":
            raise ChallengeConflict(_decided_text(row) + "; your decision was not recorded")
        if row.filed_by == reviewer:
            raise ChallengeNotAllowed(f"challenge #{challenge_id} was filed by {reviewer}: another person reviews it")
        raise ChallengeConflict(f"challenge #{challenge_id} changed since you read it (version {expected_version}, "
                                f"now {row.version}); read it again before deciding")
    db.audit(s, reviewer, "challenge.decide", "challenge", challenge_id, decision=decision, note=note or None)


# -- listing and export -----------------------------------------------------------------------
def list_challenges(engine: Engine | None = None, *, series: str | None = None,
                    status: str | Sequence[str] | None = None, province: str | None = None, scheme: str = "63",
                    kind: str | Sequence[str] | None = None, limit: int | None = None,
                    viewer: Principal = LOCAL) -> list[Challenge]:
    """Challenges, newest first, filtered by series, status(es), province (of ``scheme``) and kind(s).

    Drafts are listed only to the person who filed them (all of them in local single-user mode).
    """
    q = sa.select(Challenge).order_by(Challenge.id.desc())
    if viewer.role != "local":
        q = q.where(sa.or_(Challenge.status != "draft", Challenge.filed_by == viewer.name))
    if series:
        q = q.where(Challenge.series == series)
    for column, value, allowed in ((Challenge.status, status, CHALLENGE_STATUSES),
                                   (Challenge.kind, kind, CHALLENGE_KINDS)):
        if value:
            values = [value] if isinstance(value, str) else list(value)
            bad = [v for v in values if v not in allowed]
            if bad:
                raise ChallengeInputError([(column.key, f"{', '.join(bad)} not among {', '.join(allowed)}")])
            q = q.where(column.in_(values))
    if province:
        column = Challenge.province_code if scheme == "63" else Challenge.province_code_34
        q = q.where(column == str(province).zfill(2))
    if limit:
        q = q.limit(limit)
    with db.session(engine) as s:
        return list(s.scalars(q))


def accepted(series: str, engine: Engine | None = None) -> list[Challenge]:
    """The accepted challenges of a series, in the order they were decided (later ones win)."""
    with db.session(engine) as s:
        return list(s.scalars(sa.select(Challenge).where(Challenge.series == series, Challenge.status == "accepted")
                              .order_by(Challenge.decided_at, Challenge.id)))


COLUMNS = ("id", "series", "snapshot_id", "status", "kind", "unit_level", "unit_code", "unit_name", "province_code",
           "province_code_34", "technology", "operator", "claim", "reason", "evidence_text", "evidence_file",
           "evidence_sha256", "households", "lon", "lat", "filed_by", "organisation", "filed_at", "reviewer",
           "decided_at", "decision_note", "version")


def to_frame(challenges: Sequence[Challenge], units: StoreUnits | None = None) -> gpd.GeoDataFrame:
    """Challenges as a table of points: the challenge's own point when it has one, else its
    village's point in the store (``point_source`` says which); times in ISO 8601 (UTC)."""
    rows = [{c: getattr(ch, c) for c in COLUMNS} for ch in challenges]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("filed_at", "decided_at"):
        frame[col] = [_iso(v) for v in frame[col]]
    px = frame["lon"].to_numpy(float, copy=True)
    py = frame["lat"].to_numpy(float, copy=True)
    source = np.where(np.isfinite(px), "challenge", "none").astype(object)
    if units is not None and len(frame):
        known = frame["unit_code"].isin(units.villages.index).to_numpy() & (frame["unit_level"] == "village").to_numpy()
        take = known & ~np.isfinite(px)
        if take.any():
            at = units.villages.loc[frame.loc[take, "unit_code"], ["lon", "lat"]].to_numpy(float)
            px[take], py[take] = at[:, 0], at[:, 1]
            source[take] = "village"
    geometry = [shapely.Point(x, y) if np.isfinite(x) else None for x, y in zip(px, py)]
    frame["point_source"] = source
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=4326)


def _iso(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if hasattr(value, "isoformat"):
        if getattr(value, "tzinfo", None) is None:  # SQLite hands back naive UTC times
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.isoformat(timespec="seconds")
    return str(value)


def export_layer(challenges: Sequence[Challenge], units: StoreUnits | None = None,
                 filters: dict | None = None) -> gpd.GeoDataFrame:
    """The challenges as a layer with its metadata record (``attrs["metadata"]``), ready for
    :func:`coverage.export.write`."""
    gdf = to_frame(challenges, units)
    manifest = units.manifest if units is not None else {}
    synthetic = bool(manifest.get("scenario", {}).get("synthetic"))
    now = utcnow().isoformat(timespec="seconds")
    gdf.attrs["metadata"] = {
        "title": "vnbb challenges", "layer": "challenges",
        "filters": ", ".join(f"{k}={v}" for k, v in (filters or {}).items() if v) or "none",
        "features": len(gdf), "exported_at": now,
        "statuses": ", ".join(f"{s}: {int((gdf['status'] == s).sum())}" for s in CHALLENGE_STATUSES),
        "store": units.path if units is not None else "",
        "scenario": manifest.get("scenario", {}).get("name") or "",
        "synthetic": synthetic,
        "warning": "Challenges against SYNTHETIC demo data." if synthetic else "",
        "attribution": "", "built_at": now,
        "method": ("One row per challenge. Points: the challenge's own coordinates when given (point_source = "
                   "challenge), else its village's point in the store (village). Evidence files are not included: "
                   "evidence_sha256 names each in the evidence folder. Filer and reviewer names are as typed "
                   "(no sign-in yet)."),
        "crs": "EPSG:4326", "software": f"vnbb {metadata.version('vnbb')}",
    }
    return gdf


def export(challenges: Sequence[Challenge], fmt: str, out: Path | str, units: StoreUnits | None = None,
           filters: dict | None = None) -> Path:
    """Write the challenges as CSV, GeoJSON, GeoPackage or XLSX (atomically, with metadata)."""
    if fmt not in EXPORT_FORMATS:
        raise ChallengeError(f"unknown format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    return gis.write(export_layer(challenges, units, filters), fmt, out)


def to_bytes(challenges: Sequence[Challenge], fmt: str, units: StoreUnits | None = None,
             filters: dict | None = None) -> bytes:
    """The file :func:`export` would write, as bytes (for download buttons)."""
    if fmt not in EXPORT_FORMATS:
        raise ChallengeError(f"unknown format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    return gis.to_bytes(export_layer(challenges, units, filters), fmt)
