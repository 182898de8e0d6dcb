"""National-scale benchmark: the project's build against what analysts use today, in one run.

Methods, each run in its own process (so its peak memory is its own) on the same workload:

* ``project``: ``coverage.store.build`` (every layer, both schemes, villages and households);
  its household step (placing households with the raster, all layers) is timed again on its
  own after the build (in the build it runs on a thread beside the village step);
* ``reference``: geopandas ``sjoin`` of villages with each layer's sites (within the site's
  radius) and footprints, and ``rasterstats.zonal_stats`` once per layer over the household
  raster masked by the layer's discs and footprints (``rasterio.features.rasterize``);
* ``exactextract``: the same with exactextract once per layer for the household part (its
  ``sum`` weights cells by the fraction inside each commune, where the others count cell centres);
* ``floor``: one numpy pass over the household raster (its sum), below which nothing that reads
  the raster can go.

Usage: ``python -m benchmarks --resolution 30`` (quick), ``--resolution 30 9 3`` (scaling in
cells), ``--sites 25000 50000 100000`` (scaling in sites: every method at the largest count,
the project and the floor at the others). ``vnbb bench`` takes the same options.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

LAYERS = ["any__all", "fixed__all", "4G__all", "5G__all", "mobile__Viettel", "mobile__VinaPhone",
          "mobile__MobiFone", "mobile__Vietnamobile", "mobile__Gmobile"]
RESULTS = Path(__file__).resolve().parent / "results"
METHODS = ("project", "reference", "exactextract", "floor")
TARGETS = {"speedup_vs_reference": 10.0, "floor_multiple": 10.0, "peak_gib": 4.0}


def machine() -> dict:
    """Cores, memory and CPU of this machine."""
    info = {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
        info["ram_gib"] = round(int(mem) / 2**20, 1)
        cpu = [line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")]
        info["cpu"] = cpu[0].split(":", 1)[1].strip() if cpu else platform.processor()
    except OSError:
        pass
    return info


def _load() -> float:
    """The 1-minute load average (other jobs on the machine make timings noisy)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


# -- the methods (run in a child process) ------------------------------------------------------------
def _run_project(scenario: Path, work: Path) -> dict:
    from coverage import store

    marks: list[tuple[str, float, float]] = []
    raster: dict[str, float] = {}
    placed_population = store._placed_population

    def _timed(*args, **kwargs):  # the raster step inside the build (on its own thread)
        raster["start"] = time.perf_counter()
        try:
            return placed_population(*args, **kwargs)
        finally:
            raster["end"] = time.perf_counter()

    store._placed_population = _timed
    try:
        t, t_cpu = time.perf_counter(), time.process_time()
        out = store.build(scenario, work / "store", force=True,
                          progress=lambda msg: marks.append((msg, time.perf_counter(), time.process_time())))
        end, end_cpu = time.perf_counter(), time.process_time()
    finally:
        store._placed_population = placed_population
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the build's (before the step alone)
    seconds = end - t
    marks.append(("end", end, end_cpu))
    steps = {msg: marks[i + 1][1] - at for i, (msg, at, _) in enumerate(marks[:-1])}
    cpu = {msg: marks[i + 1][2] - at for i, (msg, _, at) in enumerate(marks[:-1])}
    table = store.read_table(out, "commune", "63").set_index("code")
    vil = {k: int(table[f"cov__{k}"].sum()) for k in LAYERS}
    # Households: only communes the raster placed (others keep the village-rate rule).
    placed = set(pd.read_parquet(out / "remainder_factors.parquet")["commune_63"])
    table = table[table.index.isin(placed)]
    pct = {k: table[f"hh_pct__{k}"].to_dict() for k in LAYERS}
    village = next((msg for msg in steps if msg.startswith("village coverage")), None)
    hh_wall, hh_cpu = _household_step(scenario)
    return {"seconds": seconds, "cpu_seconds": end_cpu - t_cpu, "peak_rss_mib": peak,
            "household_seconds": hh_wall, "household_cpu_seconds": hh_cpu,
            "household_in_build_seconds": raster.get("end", float("nan")) - raster.get("start", float("nan")),
            "village_seconds": steps.get(village, float("nan")), "steps": steps, "steps_cpu": cpu,
            "pct": pct, "villages_covered": vil}


def _household_step(scenario: Path) -> tuple[float, float]:
    """Wall and CPU seconds of the build's household step run on its own (after the build, in the same
    process): discs, the raster read in strips on every core and the sums of every layer. In the build
    it runs beside the village step, where its CPU time cannot be told apart."""
    from coverage import engine, store
    from coverage.scenario import load_scenario
    from geodata import load_registry

    registry = load_registry()
    loaded = load_scenario(scenario, registry, check_population=False)
    cov = engine.village_coverage(loaded.villages, loaded.sites, loaded.fixed, loaded.targets.village_rule,
                                  loaded.rasters, loaded.footprints)
    t, cpu = time.perf_counter(), time.process_time()
    placed = store._placed_population(loaded, store._Boundaries(None))
    store._located_remainder(loaded, cov, registry, placed)
    return time.perf_counter() - t, time.process_time() - cpu


def _layer_inputs(scenario: Path) -> dict:
    """Per layer: which sites reach it (for the village join), and its coverage polygons (site
    discs of 32 sides drawn in metres, and fixed footprints) in EPSG:4326 for the raster."""
    import geopandas as gpd
    import shapely
    from pyproj import Transformer

    from geodata.crs import AREA_CRS

    sites = pd.read_csv(scenario / "sites.csv")
    x, y = Transformer.from_crs(4326, AREA_CRS, always_xy=True).transform(sites["lon"], sites["lat"])
    discs = gpd.GeoSeries(shapely.buffer(shapely.points(x, y), sites["radius_m"].to_numpy(float), quad_segs=8),
                          crs=AREA_CRS).to_crs(4326)
    fixed = pd.concat([gpd.read_file(p) for p in sorted(scenario.glob("fixed_*.gpkg"))], ignore_index=True)
    points = gpd.GeoDataFrame(sites[["radius_m"]], geometry=gpd.points_from_xy(x, y), crs=AREA_CRS)
    out = {}
    for layer in LAYERS:
        tech, op = layer.split("__")
        m = sites["technology"].isin({"4G": ["4G"], "5G": ["5G"], "fixed": []}.get(tech, ["4G", "5G"]))
        if op != "all":
            m &= sites["operator"] == op
        m = m.to_numpy()
        footprints = fixed.geometry.to_numpy() if tech in ("any", "fixed") else np.array([], object)
        out[layer] = {"sites": points[m], "footprints": gpd.GeoDataFrame(geometry=footprints, crs=4326),
                      "shapes": np.concatenate([discs[m].to_numpy(), footprints])}
    return out


def _communes(scenario: Path):
    from geodata import boundaries

    communes = boundaries.load("63", "commune")
    hh = pd.read_csv(scenario / "households.csv", dtype={"commune_code": str})
    return communes[communes["code"].isin(hh["commune_code"])].reset_index(drop=True)


def _covered_villages(villages, villages_m, layer: dict) -> int:
    """Villages within a site's radius (sjoin ``dwithin`` in metres, one distance per site) or in a
    footprint (sjoin ``within``)."""
    import geopandas as gpd

    ids = set()
    if len(layer["sites"]):
        near = gpd.sjoin(layer["sites"], villages_m, predicate="dwithin",
                         distance=layer["sites"]["radius_m"].to_numpy(float))
        ids |= set(near["village_id"])
    if len(layer["footprints"]):
        ids |= set(gpd.sjoin(villages, layer["footprints"], predicate="within")["village_id"])
    return len(ids)


def _run_reference(scenario: Path, work: Path, zonal: str) -> dict:
    import geopandas as gpd
    import rasterio
    from rasterio import features

    from geodata.crs import AREA_CRS

    if zonal == "rasterstats":
        from rasterstats import zonal_stats
    else:
        from exactextract import exact_extract
        from exactextract.raster import NumPyRasterSource

    t = time.perf_counter()
    communes = _communes(scenario)
    villages = pd.read_csv(scenario / "villages.csv", dtype={"commune_code": str, "village_id": str})
    vpts = gpd.GeoDataFrame(villages[["village_id", "commune_code"]],
                            geometry=gpd.points_from_xy(villages["lon"], villages["lat"]), crs=4326)
    inputs = _layer_inputs(scenario)
    t_vil = time.perf_counter()
    vm = vpts.to_crs(AREA_CRS)
    out_vil = {layer: _covered_villages(vpts, vm, inputs[layer]) for layer in LAYERS}
    t_hh, cpu_hh = time.perf_counter(), time.process_time()
    with rasterio.open(scenario / "population.tif") as ds:
        pop = ds.read(1, masked=True).filled(0).astype("float32")
        transform, crs = ds.transform, ds.crs

    def _sums(arr: np.ndarray) -> np.ndarray:
        if zonal == "rasterstats":
            return np.array([s["sum"] or 0.0 for s in zonal_stats(communes, arr, affine=transform, stats="sum",
                                                                    nodata=-1)])
        src = NumPyRasterSource(arr, *_bounds(transform, arr.shape), srs_wkt=crs.to_wkt())
        return exact_extract(src, communes, "sum", output="pandas")["sum"].to_numpy(float)

    total = _sums(pop)
    out_pct = {}
    for layer in LAYERS:
        mask = features.rasterize(((g, 1) for g in inputs[layer]["shapes"]), out_shape=pop.shape,
                                  transform=transform, fill=0, dtype="uint8")
        part = _sums(pop * mask)
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = np.where(total > 0, 100 * part / total, np.nan)
        out_pct[layer] = dict(zip(communes["code"], pct))
    end = time.perf_counter()
    return {"seconds": end - t, "household_seconds": end - t_hh, "household_cpu_seconds": time.process_time() - cpu_hh,
            "village_seconds": t_hh - t_vil, "pct": out_pct, "villages_covered": out_vil}


def _bounds(transform, shape) -> tuple[float, float, float, float]:
    h, w = shape
    return transform.c, transform.f + transform.e * h, transform.c + transform.a * w, transform.f


def _run_floor(scenario: Path, work: Path) -> dict:
    import rasterio

    t, cpu = time.perf_counter(), time.process_time()
    total = 0.0
    with rasterio.open(scenario / "population.tif") as ds:
        for _, win in ds.block_windows(1):
            total += float(ds.read(1, window=win).sum())
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "household_seconds": seconds, "household_cpu_seconds": time.process_time() - cpu,
            "sum": total}


def _child(method: str, scenario: Path, work: Path) -> None:
    runner = {"project": _run_project, "floor": _run_floor,
              "reference": lambda s, w: _run_reference(s, w, "rasterstats"),
              "exactextract": lambda s, w: _run_reference(s, w, "exactextract")}[method]
    cpu = time.process_time()
    result = runner(scenario, work)
    result.setdefault("cpu_seconds", time.process_time() - cpu)  # the project's: its build's alone
    result.setdefault("peak_rss_mib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    (work / f"{method}.json").write_text(json.dumps(result, default=float))


def run_method(method: str, scenario: Path, work: Path, timeout: float | None = None) -> dict:
    """Run one method in a fresh process (``seconds``: its own work, imports and start-up left out;
    ``wall_seconds``: the whole process). A method still running after ``timeout`` seconds is
    stopped and recorded as such."""
    load = _load()
    t = time.perf_counter()
    cmd = [sys.executable, "-m", "benchmarks.national", "--child", method, str(scenario), str(work)]
    try:
        subprocess.run(cmd, check=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"skipped": f"stopped after {timeout:g} s", "load_before": load}
    result = json.loads((work / f"{method}.json").read_text())
    result["wall_seconds"] = time.perf_counter() - t
    result["load_before"], result["load_after"] = load, _load()
    return result


def _agreement(a: dict, b: dict, households: pd.Series, province: pd.Series, n_villages: int) -> dict:
    """Differences in household percentage points over the communes both place: the largest per
    commune, the 99th percentile, and the largest per province (households-weighted); and in
    the national share of villages covered (points)."""
    worst, p99, prov, compared = 0.0, 0.0, 0.0, 0
    for layer in LAYERS:
        x = pd.Series(a["pct"][layer], dtype=float)
        y = pd.Series(b["pct"][layer], dtype=float).reindex(x.index)
        ok = (x.notna() & y.notna()).to_numpy()
        x, y = x[ok], y[ok]
        compared = max(compared, len(x))
        if not len(x):
            continue
        d = (x - y).abs()
        worst, p99 = max(worst, float(d.max())), max(p99, float(d.quantile(0.99)))
        w = households.reindex(x.index).fillna(0)
        g = province.reindex(x.index)
        px = (x * w).groupby(g).sum() / w.groupby(g).sum()
        py = (y * w).groupby(g).sum() / w.groupby(g).sum()
        prov = max(prov, float((px - py).abs().max()))
    villages = max(abs(a["villages_covered"][k] - b["villages_covered"][k]) for k in LAYERS)
    return {"max_pp": worst, "p99_pp": p99, "province_max_pp": prov, "communes": compared,
            "villages_max_diff": villages, "villages_pp": 100 * villages / max(n_villages, 1)}


def benchmark(arcsec: float, n_sites: int, work_root: Path, methods: list[str], timeout: float | None = None,
              ) -> dict:
    """One workload, every asked method; a row of figures (times, memory, ratios, agreement)."""
    from benchmarks.workload import grid_shape, make_workload

    scenario = make_workload(work_root / f"workload-{arcsec:g}-{n_sites}", arcsec=arcsec, n_sites=n_sites)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=work_root))
    results = {}
    for m in methods:
        print(f"  {arcsec:g}\" {n_sites} sites: {m} ...", file=sys.stderr, flush=True)
        results[m] = run_method(m, scenario, work, None if m in ("project", "floor") else timeout)
    h, w = grid_shape(arcsec)
    row: dict = {"arcsec": arcsec, "cells": h * w, "sites": n_sites, "layers": len(LAYERS)}
    for m, r in results.items():
        if "skipped" in r:
            row[f"{m}_skipped"] = r["skipped"]
            continue
        row[f"{m}_s"] = round(r["seconds"], 2)
        row[f"{m}_hh_s"] = round(r["household_seconds"], 2)
        row[f"{m}_cpu_s"] = round(r["cpu_seconds"], 2)
        row[f"{m}_hh_cpu_s"] = round(r["household_cpu_seconds"], 2)
        row[f"{m}_peak_mib"] = round(r["peak_rss_mib"])
        row[f"{m}_load"] = [r["load_before"], r["load_after"]]
    if "project_s" in row:
        row["project_hh_in_build_s"] = round(results["project"]["household_in_build_seconds"], 2)
        row["project_steps"] = {k: round(v, 2) for k, v in results["project"]["steps"].items()}
        row["project_steps_cpu"] = {k: round(v, 2) for k, v in results["project"]["steps_cpu"].items()}
        for m in ("reference", "exactextract", "floor"):
            if f"{m}_s" in row:
                row[f"project/{m}"] = round(row["project_s"] / row[f"{m}_s"], 3)
                row[f"project_hh/{m}_hh"] = round(row["project_hh_s"] / row[f"{m}_hh_s"], 3)
                row[f"project_cpu/{m}_cpu"] = round(row["project_cpu_s"] / row[f"{m}_cpu_s"], 3)
                row[f"project_hh_cpu/{m}_hh_cpu"] = round(row["project_hh_cpu_s"] / row[f"{m}_hh_cpu_s"], 3)
    villages = pd.read_csv(scenario / "villages.csv", usecols=["village_id"])
    hh = pd.read_csv(scenario / "households.csv", dtype={"commune_code": str}).set_index("commune_code")["households"]
    from geodata import load_registry

    province = load_registry().units("63", "commune").set_index("code")["parent_code"]
    for m in ("reference", "exactextract"):
        if f"{m}_s" in row and "project_s" in row:
            agree = _agreement(results["project"], results[m], hh, province, len(villages))
            row[f"{m}_commune_max_pp"] = round(agree["max_pp"], 4)
            row[f"{m}_commune_p99_pp"] = round(agree["p99_pp"], 4)
            row[f"{m}_province_max_pp"] = round(agree["province_max_pp"], 4)
            row[f"{m}_villages_max_diff"] = agree["villages_max_diff"]
            row[f"{m}_villages_pp"] = round(agree["villages_pp"], 4)
            row["communes_compared"] = agree["communes"]
    return row


def growth(rows: list[dict]) -> list[dict]:
    """How times grow between consecutive tiers: with cells (same sites) and with sites (same
    grid), as the exponent ``b`` in ``time ~ size ** b`` (1: linear; under 1: better)."""
    out = []
    table = pd.DataFrame(rows)
    for by, fixed in (("cells", "sites"), ("sites", "cells")):
        for _, tiers in table.groupby(fixed):
            tiers = tiers.sort_values(by)
            for (_, a), (_, b) in zip(tiers.iloc[:-1].iterrows(), tiers.iloc[1:].iterrows()):
                if a[by] == b[by]:
                    continue
                entry = {"with": by, "from": int(a[by]), "to": int(b[by]), "size_ratio": round(b[by] / a[by], 2)}
                for col in ("project_s", "project_cpu_s", "project_hh_s", "project_hh_cpu_s", "reference_s",
                            "reference_cpu_s", "exactextract_s", "exactextract_cpu_s", "floor_s"):
                    if col in tiers and pd.notna(a.get(col)) and pd.notna(b.get(col)) and a[col] > 0:
                        entry[col.removesuffix("_s")] = round(math.log(b[col] / a[col]) / math.log(b[by] / a[by]), 2)
                out.append(entry)
    return out


def targets(rows: list[dict]) -> list[str]:
    """The issue's targets, read off the rows: met or not, with the figure."""
    lines = []
    for r in rows:
        tag = f"{r['arcsec']:g}\" {r['sites']} sites"
        if "reference_s" in r and "project_s" in r:
            x, c = r["reference_s"] / r["project_s"], r["reference_cpu_s"] / r["project_cpu_s"]
            goal = TARGETS["speedup_vs_reference"]
            lines.append(f"{tag}: full build {x:.1f}x faster than the reference, {c:.1f}x in CPU time "
                         f"(target >= {goal:g}x): {'met' if x >= goal else 'NOT met'}")
        if "exactextract_hh_s" in r and "project_hh_s" in r:
            x, c = r["exactextract_hh_s"] / r["project_hh_s"], r["exactextract_hh_cpu_s"] / r["project_hh_cpu_s"]
            lines.append(f"{tag}: household part {x:.1f}x faster than exactextract, {c:.1f}x in CPU time "
                         f"(target > 1x): {'met' if x > 1 else 'NOT met'}")
        if "floor_s" in r and "project_hh_s" in r:
            x = r["project_hh_s"] / r["floor_s"]
            lines.append(f"{tag}: household part {x:.1f}x the floor (target <= {TARGETS['floor_multiple']:g}x): "
                         f"{'met' if x <= TARGETS['floor_multiple'] else 'NOT met'}")
        if "project_peak_mib" in r:
            gib = r["project_peak_mib"] / 1024
            lines.append(f"{tag}: project peak RSS {gib:.2f} GiB (target < {TARGETS['peak_gib']:g} GiB): "
                         f"{'met' if gib < TARGETS['peak_gib'] else 'NOT met'}")
    return lines


_SHOWN = ["arcsec", "cells", "sites", "project_s", "project_cpu_s", "project_hh_s", "reference_s", "reference_cpu_s",
          "exactextract_s", "exactextract_hh_s", "floor_s", "project/reference", "project_cpu/reference_cpu",
          "project_hh/exactextract_hh", "project_hh/floor_hh",
          "project_peak_mib", "reference_peak_mib", "exactextract_peak_mib", "reference_commune_max_pp",
          "reference_villages_pp", "exactextract_province_max_pp"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    p.add_argument("--resolution", type=float, nargs="+", default=[30.0], help="arc-seconds (30, 9, 3)")
    p.add_argument("--sites", type=int, nargs="+", default=[100_000],
                   help="site counts (every method at the largest, project and floor at the others)")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--timeout", type=float, default=1800.0,
                   help="seconds after which the reference or exactextract is stopped and recorded as such")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "vnbb-bench")
    p.add_argument("--out", type=Path, default=None,
                   help="results JSON (default: benchmarks/results/national-<date>-<tiers>.json)")
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.child:
        _child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for arcsec in args.resolution:
        for n in args.sites:
            methods = args.methods if n == max(args.sites) else [m for m in args.methods if m in ("project", "floor")]
            rows.append(benchmark(arcsec, n, args.work, methods, args.timeout))
            print(json.dumps(rows[-1]), flush=True)
    table = pd.DataFrame(rows)
    print(table[[c for c in _SHOWN if c in table]].to_string(index=False))
    grow = growth(rows)
    if grow:
        print("\ngrowth (exponent b in time ~ size**b between tiers):")
        print(pd.DataFrame(grow).to_string(index=False))
    goals = targets(rows)
    print("\n" + "\n".join(goals))
    record = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), "argv": argv or sys.argv[1:],
              "rows": rows, "growth": grow, "targets": goals}
    print(json.dumps(record["machine"]))
    out = args.out or RESULTS / (f"national-{time.strftime('%Y-%m-%d')}-"
                                 f"{'-'.join(f'{r:g}' for r in args.resolution)}as-"
                                 f"{'-'.join(str(s) for s in args.sites)}sites.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2))
    tmp.replace(out)
    print(out)


if __name__ == "__main__":
    main()
