"""The ``vnbb`` command line: everything the app does, in batch."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from coverage.models import CHALLENGE_KINDS, CHALLENGE_STATUSES
from geodata.errors import UnitNameError, VnbbError

app = typer.Typer(help="Broadband coverage and gap analysis against Vietnam's national targets.",
                  no_args_is_help=True, add_completion=False)
data_app = typer.Typer(help="Reference data: download and derive official boundaries.", no_args_is_help=True)
app.add_typer(data_app, name="data")
db_app = typer.Typer(help="The database of snapshots, challenges and the audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
users_app = typer.Typer(help="Users who sign in to the app, and their roles.", no_args_is_help=True)
app.add_typer(users_app, name="users")
scenario_app = typer.Typer(help="Scenario folders: the versions imports made.", no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")

_err = Console(stderr=True)


class SchemeOpt(str, Enum):
    s63 = "63"
    s34 = "34"


class LevelOpt(str, Enum):
    province = "province"
    commune = "commune"


class UnitsFormat(str, Enum):
    csv = "csv"
    geojson = "geojson"


DataDirOpt = Annotated[Optional[Path], typer.Option(
    "--data-dir", help="Reference data folder (default: $VNBB_DATA_DIR).", show_default=False)]


def _fail(exc: Exception, code: int = 1) -> None:
    _err.print(f"[bold red]error:[/] {exc}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Show the project's own errors as one message and exit 1, instead of a traceback."""
    try:
        yield
    except VnbbError as exc:
        _fail(exc)


@app.command()
def units(
    scheme: Annotated[SchemeOpt, typer.Option(help="63 units (before July 2025) or 34 (from July 2025).")] = SchemeOpt.s63,
    level: Annotated[LevelOpt, typer.Option(help="Administrative level.")] = LevelOpt.province,
    fmt: Annotated[UnitsFormat, typer.Option("--format", help="Output format.")] = UnitsFormat.csv,
    data_dir: DataDirOpt = None,
) -> None:
    """List the units of a scheme and level (CSV: code,name,parent_code,...,source)."""
    from geodata import boundaries, load_registry

    with _user_errors():
        if fmt is UnitsFormat.csv:
            table = load_registry(data_dir).units(scheme.value, level.value)
            cols = ["code", "name", "parent_code", "short_name", "type", "source"]
            table[cols].to_csv(sys.stdout, index=False, lineterminator="\n")
        else:
            layer = boundaries.load(scheme.value, level.value, data_dir=data_dir)
            sys.stdout.write(layer.to_json(drop_id=True, ensure_ascii=False))
            sys.stdout.write("\n")


@app.command()
def resolve(
    names: Annotated[list[str], typer.Argument(help="Unit names, in any spelling.")],
    scheme: Annotated[SchemeOpt, typer.Option(help="Scheme to resolve in.")] = SchemeOpt.s63,
    level: Annotated[LevelOpt, typer.Option(help="Administrative level.")] = LevelOpt.province,
    province: Annotated[Optional[str], typer.Option(help="Province to search communes in.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Print the code and canonical name of each NAME; exit 2 if any is unknown or ambiguous."""
    from geodata import load_registry

    registry = load_registry(data_dir)
    failed = False
    for name in names:
        try:
            unit = registry.resolve(name, scheme.value, level.value, province=province)
        except UnitNameError as exc:
            failed = True
            _err.print(f"[bold red]error:[/] {exc}", highlight=False)
            continue
        if as_json:
            print(json.dumps({"input": name, **unit.__dict__}, ensure_ascii=False))
        else:
            note = f"  ({unit.note})" if unit.note and unit.note != "code" else ""
            print(f"{unit.code}\t{unit.name}{note}")
    if failed:
        raise typer.Exit(2)


@data_app.command("fetch")
def data_fetch(
    out: Annotated[Optional[Path], typer.Option(help="Folder to write the derived layers to (default: the data folder, else the cache).")] = None,
    url: Annotated[Optional[str], typer.Option(help="Address of the source KML (default: the published copy).")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Download the published province layer, verify it, and derive the 63 and 34 layers."""
    from geodata import fetch

    with _user_errors():
        written = fetch.fetch_boundaries(out=out, url=url, data_dir=data_dir, progress=True)
    for path in written:
        print(path)


class ReportFormat(str, Enum):
    csv = "csv"
    json = "json"


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder to write the demo scenario to (with --history: a folder of "
                                           "quarters, <as-of>/ scenarios and stores/<as-of>).")],
    seed: Annotated[int, typer.Option(help="Random seed (the same seed gives the same files).")] = 42,
    history: Annotated[int, typer.Option(help="Write a SYNTHETIC history of this many quarters ending with the "
                                              "demo's, build them and register them as snapshots.", min=0)] = 0,
    register: Annotated[bool, typer.Option(help="With --history: build and register the quarters "
                                                "(--no-register only writes the scenarios).")] = True,
    db_url: Annotated[Optional[str], typer.Option("--db", help="Database URL (default: $VNBB_DB_URL, else the "
                                                               "SQLite file in the state folder).",
                                                  show_default=False)] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Write the SYNTHETIC demo scenario (real units and census totals, synthetic networks)."""
    from coverage.demo import write_demo, write_history

    if not history:
        with _user_errors():
            with _err.status("writing the demo scenario…"):
                path = write_demo(out, seed=seed, data_dir=data_dir)
        print(path)
        return
    from coverage import db, snapshots
    from coverage.store import build as build_store

    with _user_errors():
        with _err.status(f"writing {history} quarters of SYNTHETIC history…"):
            written = write_history(out, history, seed=seed, data_dir=data_dir)
        if not register:
            for _day, path in written:
                print(path)
            return
        engine = db.connect(db_url)
        for day, path in written:
            with _err.status(f"{day}: building…") as status:
                built = build_store(path, out / "stores" / day.isoformat(), data_dir=data_dir,
                                    progress=lambda msg, d=day: status.update(f"{d}: {msg}"))
            snap = snapshots.register(built, actor="vnbb demo", engine=engine)
            print(f"{snap.id}\t{snap.series}\t{snap.as_of}\t{built}")


@app.command()
def build(
    scenario: Annotated[Path, typer.Option(help="Scenario folder.")],
    out: Annotated[Path, typer.Option(help="Results store folder (replaced atomically).")],
    force: Annotated[bool, typer.Option(help="Rebuild even when the inputs are unchanged.")] = False,
    snapshot: Annotated[bool, typer.Option(help="Keep the results as a dated snapshot (--no-snapshot: don't).")] = True,
    series: Annotated[Optional[str], typer.Option(help="Snapshot series (default: the scenario's name).")] = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Snapshot date when the scenario states none "
                                                                 "(YYYY-MM-DD).")] = None,
    db_url: Annotated[Optional[str], typer.Option("--db", help="Database URL (default: $VNBB_DB_URL, else the "
                                                               "SQLite file in the state folder).",
                                                  show_default=False)] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Compute coverage and gaps for every village, commune and province; write the store; keep it
    as the snapshot of its as-of date."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from coverage.store import build as build_store

    with _user_errors():
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=_err, transient=False) as bar:
            task = bar.add_task("building", total=None)
            path = build_store(scenario, out, data_dir=data_dir, force=force,
                               progress=lambda msg: bar.update(task, description=msg))
    print(path)
    if snapshot:
        from coverage import db, snapshots

        with _user_errors():
            try:
                snap = snapshots.register(path, series=series, as_of=as_of, actor="vnbb build",
                                          engine=db.connect(db_url))
            except snapshots.SnapshotError as exc:  # e.g. no as-of date: the build itself stands
                _err.print(f"[yellow]not kept as a snapshot:[/] {exc}", highlight=False)
                return
        _err.print(f"snapshot {snap.id}: {snap.series}, as of {snap.as_of}", highlight=False)


@app.command()
def report(
    store: Annotated[Path, typer.Option(help="Results store folder.")],
    level: Annotated[LevelOpt, typer.Option(help="Administrative level.")] = LevelOpt.province,
    scheme: Annotated[SchemeOpt, typer.Option(help="Scheme.")] = SchemeOpt.s63,
    technology: Annotated[str, typer.Option(help="any, fixed, mobile, 4G or 5G.")] = "any",
    operator: Annotated[str, typer.Option(help="all, or an operator's name.")] = "all",
    fmt: Annotated[ReportFormat, typer.Option("--format", help="Output format.")] = ReportFormat.csv,
) -> None:
    """Print households and villages covered, percentages and gaps to every target."""
    from coverage.store import report as make_report

    with _user_errors():
        table = make_report(store, level.value, scheme.value, technology, operator)
    if fmt is ReportFormat.csv:
        table.to_csv(sys.stdout, index=False, lineterminator="\n")
    else:
        sys.stdout.write(table.to_json(orient="records", force_ascii=False))
        sys.stdout.write("\n")


class ExportLayer(str, Enum):
    villages = "uncovered-villages"
    households = "uncovered-households"
    coverage = "coverage"


class ExportFormat(str, Enum):
    gpkg = "gpkg"
    geojson = "geojson"
    shp = "shp"
    csv = "csv"
    xlsx = "xlsx"


@app.command()
def export(
    store: Annotated[Path, typer.Option(help="Results store folder.")],
    layer: Annotated[ExportLayer, typer.Option(help="Which gap layer.")],
    out: Annotated[Path, typer.Option(help="File to write (replaced atomically).")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="File format (shp is a zip).")] = ExportFormat.gpkg,
    province: Annotated[Optional[list[str]], typer.Option(help="Province code or name (repeatable).")] = None,
    scheme: Annotated[SchemeOpt, typer.Option(help="Scheme of --province and of the layer.")] = SchemeOpt.s63,
    technology: Annotated[str, typer.Option(help="any, fixed, mobile, 4G or 5G.")] = "any",
    operator: Annotated[str, typer.Option(help="all, or an operator's name.")] = "all",
    level: Annotated[LevelOpt, typer.Option(help="Units of the coverage layer.")] = LevelOpt.commune,
    data_dir: DataDirOpt = None,
) -> None:
    """Write a gap layer (uncovered villages or household clusters, or coverage) for GIS tools."""
    from coverage.export import gap_layer, write
    from geodata import load_registry

    with _user_errors():
        codes = None
        if province:
            registry = load_registry(data_dir)
            codes = [p.strip().zfill(2) if p.strip().isdigit() else registry.resolve(p, scheme.value).code
                     for p in province]
        gdf = gap_layer(store, layer.value, provinces=codes, scheme=scheme.value, technology=technology,
                        operator=operator, level=level.value)
        path = write(gdf, fmt.value, out)
    _err.print(f"{len(gdf)} features", highlight=False)
    print(path)


class ValidateKind(str, Enum):
    sites = "sites"
    villages = "villages"
    households = "households"
    fixed = "fixed"
    coverage_raster = "coverage-raster"
    boundaries = "boundaries"
    footprint = "footprint"
    opencellid = "opencellid"
    ookla = "ookla"
    population = "population"


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="The file to check (CSV, XLSX, GeoTIFF, GeoPackage, GeoJSON, "
                                              "Shapefile or zip, KML, Parquet).")],
    kind: Annotated[ValidateKind, typer.Option(help="What the file holds.")],
    crs: Annotated[Optional[str], typer.Option(help="CRS of a vector file that declares none: EPSG:4326, VN-2000, "
                                                    "'TM-3 105-45' or 'VN-2000:<province>'.")] = None,
    sheet: Annotated[Optional[str], typer.Option(help="XLSX sheet (default: the one with the columns).")] = None,
    scenario: Annotated[Optional[Path], typer.Option(help="Scenario folder to check villages/fixed against.")] = None,
    max_mb: Annotated[Optional[float], typer.Option(help="Size limit in MB (default $VNBB_MAX_INPUT_MB or 2048).")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Check an input file and print every problem; exit 1 when it would be refused."""
    import os

    from coverage.scenario import validate_file
    from geodata import load_registry

    before = os.environ.get("VNBB_MAX_INPUT_MB")
    if max_mb is not None:
        os.environ["VNBB_MAX_INPUT_MB"] = str(max_mb)
    try:
        with _user_errors():
            report = validate_file(file, kind.value, load_registry(data_dir), crs=crs, sheet=sheet,
                                   scenario=scenario)
    finally:
        if before is None:
            os.environ.pop("VNBB_MAX_INPUT_MB", None)
        else:
            os.environ["VNBB_MAX_INPUT_MB"] = before
    print(report.text())
    if not report.ok:
        raise typer.Exit(1)


DbUrlOpt = Annotated[Optional[str], typer.Option(
    "--db", help="Database URL (default: $VNBB_DB_URL, else the SQLite file in the state folder).",
    show_default=False)]


@db_app.command("upgrade")
def db_upgrade(url: DbUrlOpt = None) -> None:
    """Create the database or bring it to the newest schema (the app and commands also do this)."""
    from coverage import db

    with _user_errors():
        engine = db.connect(url)
    print(f"{engine.url.render_as_string(hide_password=True)}: schema {db.revision(engine)}")


class RoleOpt(str, Enum):
    ministry = "ministry"
    province = "province"
    operator = "operator"


def _known_operators(store: Path | None) -> set[str]:
    """Operators a user may act for: those of the store (``--store`` or $VNBB_STORE), else the
    mobile operators of the public cell registry and the main fixed networks."""
    import os

    from coverage import store as store_mod
    from coverage._public import MNC_OPERATORS

    path = store or (Path(os.environ["VNBB_STORE"]) if os.environ.get("VNBB_STORE") else None)
    if path is not None:
        manifest = store_mod.read_manifest(path)
        return set(manifest.get("mobile_operators", [])) | set(manifest.get("fixed_operators", []))
    return set(MNC_OPERATORS.values()) | {"VNPT", "FPT", "CMC"}


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Sign-in name.")],
    role: Annotated[RoleOpt, typer.Option(help="What the user may see and do.")],
    province: Annotated[Optional[str], typer.Option(help="Province code (province role).")] = None,
    scheme: Annotated[SchemeOpt, typer.Option(help="Scheme of the province code.")] = SchemeOpt.s34,
    operator: Annotated[Optional[str], typer.Option(help="Operator name (operator role).")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")] = False,
    store: Annotated[Optional[Path], typer.Option(help="Store whose operators are valid names.")] = None,
    url: DbUrlOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Create a user; the password is asked for (twice) unless given on standard input."""
    from coverage import db, users
    from geodata.registry import load_registry

    password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True)
    with _user_errors():
        known = set(load_registry(data_dir).units(scheme.value, "province")["code"]) if province else None
        who = users.add_user(name, role.value, password, province=province, scheme=scheme.value, operator=operator,
                             known_provinces=known, known_operators=_known_operators(store) if operator else None,
                             engine=db.connect(url))
    print(f"added {who.describe()}")


@users_app.command("list")
def users_list(url: DbUrlOpt = None) -> None:
    """Users with their role, province or operator, and whether they are disabled."""
    from coverage import db, users

    with _user_errors():
        for u in users.users(db.connect(url)):
            where = f"{u.province_code} ({u.province_scheme})" if u.role == "province" else u.operator
            print(f"{u.name}\t{u.role}\t{where}\t{'disabled' if u.disabled else 'active'}")


@users_app.command("disable")
def users_disable(name: str, enable: Annotated[bool, typer.Option(help="Enable again instead.")] = False,
                  url: DbUrlOpt = None) -> None:
    """Disable a user (their sign-ins end at once), or enable them again."""
    from coverage import db, users

    with _user_errors():
        users.set_disabled(name, not enable, engine=db.connect(url))
    print(f"{name}: {'enabled' if enable else 'disabled'}")
challenges_app = typer.Typer(help="Challenges to figures: file, decide, withdraw, list, export, compare.",
                              no_args_is_help=True)
app.add_typer(challenges_app, name="challenges")
_CONFLICT_EXIT = 3  # someone else decided first: distinct from bad input (1)


# The choices come from the database model's own lists, so the CLI cannot drift from them (it
# had: "draft" was missing from --status).
ChallengeKind = Enum("ChallengeKind", {k: k for k in CHALLENGE_KINDS}, type=str)
ChallengeStatus = Enum("ChallengeStatus", {k: k for k in CHALLENGE_STATUSES}, type=str)


class ChallengeFormat(str, Enum):
    csv = "csv"
    geojson = "geojson"
    gpkg = "gpkg"
    xlsx = "xlsx"


class ListFormat(str, Enum):
    csv = "csv"
    json = "json"


StatusOpt = Annotated[Optional[list[ChallengeStatus]], typer.Option("--status", help="Status (repeatable).")]
KindOpt = Annotated[Optional[list[ChallengeKind]], typer.Option("--kind", help="Kind (repeatable).")]
SeriesOpt = Annotated[Optional[str], typer.Option(help="Series (default: all; for file/compare: the store's).")]


@contextmanager
def _challenge_errors() -> Iterator[None]:
    """Project errors exit 1; losing a decision to someone else exits 3."""
    from coverage.challenges import ChallengeConflict

    try:
        yield
    except ChallengeConflict as exc:
        _fail(exc, _CONFLICT_EXIT)
    except VnbbError as exc:
        _fail(exc)


def _listed(url: Optional[str], series: Optional[str], status: Optional[list[ChallengeStatus]],
            province: Optional[str], scheme: SchemeOpt, kind: Optional[list[ChallengeKind]]) -> list:
    from coverage import challenges, db

    return challenges.list_challenges(db.connect(url), series=series, status=[s.value for s in status or []],
                                      province=province, scheme=scheme.value, kind=[k.value for k in kind or []])


@challenges_app.command("list")
def challenges_list(
    url: DbUrlOpt = None, series: SeriesOpt = None, status: StatusOpt = None,
    province: Annotated[Optional[str], typer.Option(help="Province code (of --scheme).")] = None,
    scheme: Annotated[SchemeOpt, typer.Option(help="Scheme of --province.")] = SchemeOpt.s63,
    kind: KindOpt = None,
    fmt: Annotated[ListFormat, typer.Option("--format", help="Output format.")] = ListFormat.csv,
) -> None:
    """Print challenges, newest first (CSV or JSON lines)."""
    from coverage import challenges

    with _challenge_errors():
        table = challenges.to_frame(_listed(url, series, status, province, scheme, kind)).drop(columns="geometry")
    if fmt is ListFormat.csv:
        table.to_csv(sys.stdout, index=False, lineterminator="\n")
    else:
        for record in table.to_dict("records"):
            print(json.dumps(record, ensure_ascii=False, default=str))


@challenges_app.command("export")
def challenges_export(
    out: Annotated[Path, typer.Option(help="File to write (replaced atomically).")],
    fmt: Annotated[ChallengeFormat, typer.Option("--format", help="File format.")] = ChallengeFormat.gpkg,
    store: Annotated[Optional[Path], typer.Option(help="Results store: villages' points for challenges "
                                                       "without their own, and its metadata.")] = None,
    url: DbUrlOpt = None, series: SeriesOpt = None, status: StatusOpt = None,
    province: Annotated[Optional[str], typer.Option(help="Province code (of --scheme).")] = None,
    scheme: Annotated[SchemeOpt, typer.Option(help="Scheme of --province.")] = SchemeOpt.s63,
    kind: KindOpt = None,
) -> None:
    """Write challenges as points (GeoPackage, GeoJSON, CSV or XLSX) with a metadata record."""
    from coverage import challenges

    with _challenge_errors():
        rows = _listed(url, series, status, province, scheme, kind)
        units = challenges.load_units(store) if store else None
        filters = {"series": series, "status": ",".join(s.value for s in status or []), "province": province,
                   "scheme": scheme.value if province else None, "kind": ",".join(k.value for k in kind or [])}
        path = challenges.export(rows, fmt.value, out, units=units, filters=filters)
    _err.print(f"{len(rows)} challenges", highlight=False)
    print(path)


@challenges_app.command("file")
def challenges_file(
    store: Annotated[Path, typer.Option(help="Results store the challenge is about.")],
    by: Annotated[str, typer.Option("--by", help="Your name (no sign-in yet: as you type it).")],
    organisation: Annotated[str, typer.Option(help="Province department or operator you file for.")],
    kind: Annotated[ChallengeKind, typer.Option(help="What is wrong.")],
    unit: Annotated[str, typer.Option(help="Village id; for missing_village the commune code (63 scheme).")],
    reason: Annotated[str, typer.Option(help="Why the figure is wrong.")],
    name: Annotated[str, typer.Option(help="Name of the missing village.")] = "",
    technology: Annotated[str, typer.Option(help="Layer of a (not_)covered claim: any, fixed, mobile, 4G, 5G.")] = "any",
    operator: Annotated[str, typer.Option(help="Operator of the layer, or all.")] = "all",
    claim: Annotated[str, typer.Option(help="What the figure should be, in words.")] = "",
    evidence: Annotated[str, typer.Option(help="Evidence, in words.")] = "",
    evidence_file: Annotated[Optional[Path], typer.Option(help="Evidence file (photo, report, measurements).")] = None,
    lon: Annotated[Optional[float], typer.Option(help="Longitude (EPSG:4326).")] = None,
    lat: Annotated[Optional[float], typer.Option(help="Latitude (EPSG:4326).")] = None,
    households: Annotated[Optional[int], typer.Option(help="Households (missing village; fixed households passed).")] = None,
    snapshot: Annotated[Optional[int], typer.Option(help="Snapshot id the figure was seen in.")] = None,
    series: SeriesOpt = None, url: DbUrlOpt = None,
) -> None:
    """File a challenge; every problem with it is listed at once (exit 1)."""
    from coverage import challenges, db

    with _challenge_errors():
        units = challenges.load_units(store)
        row = challenges.file(units, series=series or challenges.default_series(units.manifest), filed_by=by,
                              organisation=organisation, kind=kind.value, unit_code=unit, unit_name=name,
                              technology=technology, operator=operator, claim=claim, reason=reason,
                              evidence_text=evidence, evidence=evidence_file, lon=lon, lat=lat,
                              households=households, snapshot_id=snapshot, engine=db.connect(url))
    print(f"filed challenge #{row.id}")


@challenges_app.command("decide")
def challenges_decide(
    challenge_id: Annotated[int, typer.Argument(help="Challenge id.")],
    accept: Annotated[bool, typer.Option("--accept/--reject", help="Accept or reject.", show_default=False)],
    reviewer: Annotated[str, typer.Option(help="Your name (no sign-in yet: as you type it).")],
    note: Annotated[str, typer.Option(help="Why.")] = "",
    version: Annotated[Optional[int], typer.Option(help="Decide only if the challenge is still at this version "
                                                        "(the one you read).")] = None,
    url: DbUrlOpt = None,
) -> None:
    """Accept or reject an open challenge; exit 3 when someone else decided it first."""
    from coverage import challenges, db

    with _challenge_errors():
        row = challenges.decide(challenge_id, "accepted" if accept else "rejected", reviewer, note,
                                expected_version=version, engine=db.connect(url))
    print(f"challenge #{row.id} {row.status}")


@challenges_app.command("withdraw")
def challenges_withdraw(
    challenge_id: Annotated[int, typer.Argument(help="Challenge id.")],
    by: Annotated[str, typer.Option("--by", help="Your name, as when you filed it.")],
    note: Annotated[str, typer.Option(help="Why.")] = "",
    url: DbUrlOpt = None,
) -> None:
    """Withdraw an open challenge you filed."""
    from coverage import challenges, db

    with _challenge_errors():
        row = challenges.withdraw(challenge_id, by, note, engine=db.connect(url))
    print(f"challenge #{row.id} {row.status}")


@challenges_app.command("compare")
def challenges_compare(
    store: Annotated[Path, typer.Option(help="Results store folder.")],
    level: Annotated[LevelOpt, typer.Option(help="Administrative level.")] = LevelOpt.province,
    scheme: Annotated[SchemeOpt, typer.Option(help="Scheme.")] = SchemeOpt.s63,
    technology: Annotated[str, typer.Option(help="any, fixed, mobile, 4G or 5G.")] = "any",
    operator: Annotated[str, typer.Option(help="all, or an operator's name.")] = "all",
    series: SeriesOpt = None, url: DbUrlOpt = None,
) -> None:
    """Print one layer's figures without and with the accepted challenges (CSV)."""
    from coverage import challenges, corrections, db, store as results

    with _challenge_errors():
        base = corrections.load_base(store)
        rows = challenges.accepted(series or challenges.default_series(results.read_manifest(store)), db.connect(url))
        corrected = corrections.apply(base, rows)
        table = corrections.comparison(base, corrected, level.value, scheme.value, technology, operator)
    for cid, why in corrected.skipped.items():
        _err.print(f"challenge #{cid} not applied: {why}", highlight=False)
    for note in corrected.notes:
        _err.print(note, highlight=False)
    table.to_csv(sys.stdout, index=False, lineterminator="\n")


snapshot_app = typer.Typer(help="Snapshots: built results kept side by side, dated by their inputs.",
                           no_args_is_help=True)
app.add_typer(snapshot_app, name="snapshot")


@snapshot_app.command("add")
def snapshot_add(
    store: Annotated[Path, typer.Option(help="Results store folder (built by `vnbb build`).")],
    series: Annotated[Optional[str], typer.Option(help="Series (default: the scenario's name).")] = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Date the results stand for (default: the "
                                                                 "scenario's as_of, else its inputs').")] = None,
    label: Annotated[Optional[str], typer.Option(help="Label shown with the snapshot.")] = None,
    url: DbUrlOpt = None,
) -> None:
    """Keep a built store as a dated snapshot (replaces the series' snapshot of the same date)."""
    from coverage import db, snapshots

    with _user_errors():
        snap = snapshots.register(store, series=series, as_of=as_of, label=label, actor="vnbb snapshot add",
                                  engine=db.connect(url))
    print(f"{snap.id}\t{snap.series}\t{snap.as_of}")


@snapshot_app.command("list")
def snapshot_list(
    series: Annotated[Optional[str], typer.Option(help="Only this series.")] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="Output format.")] = ReportFormat.csv,
    url: DbUrlOpt = None,
) -> None:
    """List snapshots: id, series, as-of date, households and villages covered (any network)."""
    import pandas as pd

    from coverage import db, snapshots

    with _user_errors():
        rows = [{"id": s.id, "series": s.series, "as_of": s.as_of.isoformat(), "label": s.label,
                 "synthetic": s.synthetic, "households_pct": s.summary.get("hh_pct__any__all"),
                 "villages_pct": s.summary.get("vil_pct__any__all"),
                 "built_at": s.built_at.isoformat(timespec="seconds"),
                 "registered_at": s.registered_at.isoformat(timespec="seconds"),
                 "path": str(snapshots.path_of(s))}
                for s in snapshots.list_snapshots(series, engine=db.connect(url))]
    table = pd.DataFrame(rows, columns=["id", "series", "as_of", "label", "synthetic", "households_pct",
                                        "villages_pct", "built_at", "registered_at", "path"])
    if fmt is ReportFormat.csv:
        table.to_csv(sys.stdout, index=False, lineterminator="\n")
    else:
        sys.stdout.write(table.to_json(orient="records", force_ascii=False))
        sys.stdout.write("\n")


@snapshot_app.command("remove")
def snapshot_remove(
    snapshot_id: Annotated[Optional[int], typer.Argument(help="Snapshot id (see `vnbb snapshot list`).")] = None,
    series: Annotated[Optional[str], typer.Option(help="Series, with --as-of, instead of an id.")] = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Date, with --series.")] = None,
    url: DbUrlOpt = None,
) -> None:
    """Remove a snapshot (its database row, with an audit entry, and its frozen copy)."""
    from coverage import db, snapshots

    if (snapshot_id is None) == (series is None or as_of is None):
        _fail(VnbbError("give a snapshot id, or --series and --as-of"), 2)
    with _user_errors():
        engine = db.connect(url)
        if snapshot_id is None:
            snapshot_id = snapshots.find(series, as_of, engine=engine).id
        snap = snapshots.remove(snapshot_id, actor="vnbb snapshot remove", engine=engine)
    print(f"removed {snap.id}\t{snap.series}\t{snap.as_of}")


class ImportKind(str, Enum):
    sites = "sites"
    villages = "villages"
    households = "households"
    fixed = "fixed"
    coverage_raster = "coverage-raster"
    footprint = "footprint"
    opencellid = "opencellid"
    ookla = "ookla"
    population = "population"


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="The file to import (as for `vnbb validate`).")],
    kind: Annotated[ImportKind, typer.Option(help="What the file holds (the input it replaces).")],
    scenario: Annotated[Path, typer.Option(help="Scenario folder to add a version to.")],
    store: Annotated[Optional[Path], typer.Option(help="Results store to rebuild from the new version before "
                                                       "switching to it.")] = None,
    provenance: Annotated[Optional[str], typer.Option(help="official, declared, modelled, measured or synthetic "
                                                           "(default: the kind's usual one).")] = None,
    as_of: Annotated[Optional[str], typer.Option(help="Date of the data, YYYY-MM-DD (required for coverage "
                                                      "layers and the population raster).")] = None,
    citation: Annotated[Optional[str], typer.Option(help="Where the data come from (shown with the results).")] = None,
    operator: Annotated[Optional[str], typer.Option(help="Coverage layers: the operator (replaces that operator's "
                                                         "layer of the same kind and technology).")] = None,
    technology: Annotated[Optional[str], typer.Option(help="Coverage layers: 4G, 5G or fixed.")] = None,
    threshold: Annotated[Optional[float], typer.Option(
        help="coverage-raster: covered where value >= threshold.")] = None,
    crs: Annotated[Optional[str], typer.Option(help="footprint: CRS of a file that declares none.")] = None,
    min_download_mbps: Annotated[Optional[float], typer.Option(help="ookla: average download needed (Mb/s).")] = None,
    min_tests: Annotated[Optional[int], typer.Option(help="ookla: tests a tile needs (default 1).")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Validate a file and add it to a scenario as a new version; exit 1 when refused.

    The earlier versions are kept (`vnbb scenario versions`). With --store the results are rebuilt
    from the new version before the scenario switches to it; a refused file or a failed build
    changes nothing."""
    from coverage.imports import import_file

    entry = {"provenance": provenance, "as_of": as_of, "citation": citation, "operator": operator,
             "technology": technology, "threshold": threshold, "crs": crs, "min_download_mbps": min_download_mbps,
             "min_tests": min_tests}
    entry = {k: v for k, v in entry.items() if v is not None}
    with _user_errors():
        with _err.status("importing…") as status:
            result = import_file(scenario, file, kind.value, entry=entry, store=store, data_dir=data_dir,
                                 progress=lambda msg: status.update(msg))
    print(result.report.text())
    if not result.ok:
        _err.print("refused: the scenario and the store are unchanged", highlight=False)
        raise typer.Exit(1)
    if result.unchanged:
        print(f"{scenario}: unchanged (the file is identical to the current input)")
        return
    version = result.version
    print(f"{scenario}: version {version.number}, {version.file} sha256 {version.sha256}")
    if result.store is not None:
        print(f"{result.store}: rebuilt")
        from coverage import snapshots

        try:
            snap = snapshots.register(result.store, actor="vnbb import")
            print(f"snapshot {snap.id}: {snap.series}, as of {snap.as_of}")
        except VnbbError as exc:
            _err.print(f"[yellow]warning:[/] the snapshot was not registered: {exc}", highlight=False)


@scenario_app.command("versions")
def scenario_versions(
    scenario: Annotated[Path, typer.Argument(help="Scenario folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List the versions of a scenario (the current one marked *): number, time, the input each
    import changed and its SHA-256."""
    from coverage.imports import versions

    found = versions(scenario)
    if not found:
        _err.print(f"{scenario}: no imports yet (a plain scenario folder)", highlight=False)
        return
    for v in found:
        if as_json:
            print(json.dumps({"number": v.number, "created_at": v.created_at, "kind": v.kind, "file": v.file,
                              "sha256": v.sha256, "source": v.source, "current": v.current,
                              "path": str(v.path), "store": v.store, "built_at": v.built_at}, ensure_ascii=False))
        else:
            print(v.describe())


@app.command("app", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def app_(ctx: typer.Context) -> None:
    """Start the app (`streamlit run streamlit_app.py`, any streamlit options passed on) and warm it
    up at once, so that its first reader does not wait for imports and data caches."""
    from app.serve import serve

    raise typer.Exit(serve(ctx.args))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
             add_help_option=False)
def bench(ctx: typer.Context) -> None:
    """The national benchmark (same options as `python -m benchmarks`; --help lists them);
    `vnbb bench --app ...` runs the app's load test instead (`python -m benchmarks.load`)."""
    args = list(ctx.args)
    if args[:1] == ["--app"]:
        from benchmarks.load import main as run_load

        run_load(args[1:])
        return
    from benchmarks.national import main as run_benchmark

    run_benchmark(args)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
