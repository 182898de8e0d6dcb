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

from geodata.errors import UnitNameError, VnbbError

app = typer.Typer(help="Broadband coverage and gap analysis against Vietnam's national targets.",
                  no_args_is_help=True, add_completion=False)
data_app = typer.Typer(help="Reference data: download and derive official boundaries.", no_args_is_help=True)
app.add_typer(data_app, name="data")

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
    out: Annotated[Path, typer.Option(help="Folder to write the demo scenario to.")],
    seed: Annotated[int, typer.Option(help="Random seed (the same seed gives the same files).")] = 42,
    data_dir: DataDirOpt = None,
) -> None:
    """Write the SYNTHETIC demo scenario (real units and census totals, synthetic networks)."""
    from coverage.demo import write_demo

    with _user_errors():
        with _err.status("writing the demo scenario…"):
            path = write_demo(out, seed=seed, data_dir=data_dir)
    print(path)


@app.command()
def build(
    scenario: Annotated[Path, typer.Option(help="Scenario folder.")],
    out: Annotated[Path, typer.Option(help="Results store folder (replaced atomically).")],
    force: Annotated[bool, typer.Option(help="Rebuild even when the inputs are unchanged.")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Compute coverage and gaps for every village, commune and province; write the store."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from coverage.store import build as build_store

    with _user_errors():
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=_err, transient=False) as bar:
            task = bar.add_task("building", total=None)
            path = build_store(scenario, out, data_dir=data_dir, force=force,
                               progress=lambda msg: bar.update(task, description=msg))
    print(path)


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


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
             add_help_option=False)
def bench(ctx: typer.Context) -> None:
    """The national benchmark (same options as `python -m benchmarks`; --help lists them)."""
    from benchmarks.national import main as run_benchmark

    run_benchmark(list(ctx.args))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
