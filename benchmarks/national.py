"""National-scale benchmark: the project's build against what analysts use today, in one run.

Methods, each run in its own process (so its peak memory is its own) on the same workload:

* ``project``: ``coverage.store.build`` (every layer, both schemes, villages and households);
* ``reference``: geopandas ``sjoin`` of villages with each layer's site discs, and
  ``rasterstats.zonal_stats`` once per layer over the household raster masked by the layer;
* ``exactextract``: the household part with exactextract once per layer (its ``sum`` weights
  cells by the fraction inside each commune, where the others count cell centres);
* ``floor``: one numpy pass over the household raster (its sum), below which nothing that reads
  the raster can go.

Usage: ``python -m benchmarks --resolution 30`` (quick), ``--resolution 30 9 3`` (scaling),
``--sites 25000 50000 100000`` (scaling in sites, project only beyond the first).
"""

from __future__ import annotations

import argparse
import json
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


# -- the methods (run in a child process) ------------------------------------------------------------
def _run_project(scenario: Path, work: Path) -> dict:
    from coverage import store

    t = time.perf_counter()
    out = store.build(scenario, work / "store", force=True)
    seconds = time.perf_counter() - t
    table = store.read_table(out, "commune", "63").set_index("code")
    vil = {k: int(table[f"cov__{k}"].sum()) for k in LAYERS}
    # Households: only communes the raster placed (others keep the village-rate rule).
    placed = set(pd.read_parquet(out / "remainder_factors.parquet")["commune_63"])
    table = table[table.index.isin(placed)]
    pct = {k: table[f"hh_pct__{k}"].to_dict() for k in LAYERS}
    return {"seconds": seconds, "pct": pct, "villages_covered": vil}


def _layer_discs(scenario: Path):
    """Each layer's coverage polygons (site discs and fixed footprints), in EPSG:4326."""
    import geopandas as gpd
    import shapely
    from pyproj import Transformer

    from geodata.crs import AREA_CRS

    sites = pd.read_csv(scenario / "sites.csv")
    x, y = Transformer.from_crs(4326, AREA_CRS, always_xy=True).transform(sites["lon"], sites["lat"])
    discs = gpd.GeoSeries(shapely.buffer(shapely.points(x, y), sites["radius_m"].to_numpy(float), quad_segs=8),
                          crs=AREA_CRS).to_crs(4326)
    fixed = pd.concat([gpd.read_file(p) for p in sorted(scenario.glob("fixed_*.gpkg"))], ignore_index=True)
    out = {}
    for layer in LAYERS:
        tech, op = layer.split("__")
        m = sites["technology"].isin({"4G": ["4G"], "5G": ["5G"]}.get(tech, ["4G", "5G"]))
        if op != "all":
            m &= sites["operator"] == op
        parts = [discs[m.to_numpy()].to_numpy()] if tech != "fixed" else []
        if tech in ("any", "fixed"):
            parts.append(fixed.geometry.to_numpy())
        out[layer] = gpd.GeoDataFrame(geometry=np.concatenate(parts), crs=4326)
    return out


def _communes(scenario: Path):
    from geodata import boundaries

    communes = boundaries.load("63", "commune")
    hh = pd.read_csv(scenario / "households.csv", dtype={"commune_code": str})
    return communes[communes["code"].isin(hh["commune_code"])].reset_index(drop=True)


def _run_reference(scenario: Path, work: Path, zonal: str) -> dict:
    import geopandas as gpd
    import rasterio
    from rasterio import features

    t = time.perf_counter()
    communes = _communes(scenario)
    villages = pd.read_csv(scenario / "villages.csv", dtype={"commune_code": str})
    vpts = gpd.GeoDataFrame(villages[["village_id", "commune_code"]],
                            geometry=gpd.points_from_xy(villages["lon"], villages["lat"]), crs=4326)
    discs = _layer_discs(scenario)
    with rasterio.open(scenario / "population.tif") as ds:
        pop = ds.read(1, masked=True).filled(0).astype("float32")
        transform, crs = ds.transform, ds.crs
    out_pct, out_vil = {}, {}
    if zonal == "rasterstats":
        from rasterstats import zonal_stats

        total = np.array([s["sum"] or 0.0 for s in zonal_stats(communes, pop, affine=transform, stats="sum",
                                                                 nodata=-1)])
    else:
        from exactextract import exact_extract
        from exactextract.raster import NumPyRasterSource

        def _ee(arr):
            src = NumPyRasterSource(arr, *_bounds(transform, arr.shape), srs_wkt=crs.to_wkt())
            res = exact_extract(src, communes, "sum", output="pandas")
            return res["sum"].to_numpy(float)

        total = _ee(pop)
    for layer, shapes in discs.items():
        hit = gpd.sjoin(vpts, shapes, predicate="within")
        out_vil[layer] = int(hit["village_id"].nunique())
        mask = features.rasterize(((g, 1) for g in shapes.geometry), out_shape=pop.shape, transform=transform,
                                  fill=0, dtype="uint8")
        covered = pop * mask
        if zonal == "rasterstats":
            part = np.array([s["sum"] or 0.0 for s in zonal_stats(communes, covered, affine=transform, stats="sum",
                                                                    nodata=-1)])
        else:
            part = _ee(covered)
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = np.where(total > 0, 100 * part / total, np.nan)
        out_pct[layer] = dict(zip(communes["code"], pct))
    return {"seconds": time.perf_counter() - t, "pct": out_pct, "villages_covered": out_vil}


def _bounds(transform, shape) -> tuple[float, float, float, float]:
    h, w = shape
    return transform.c, transform.f + transform.e * h, transform.c + transform.a * w, transform.f


def _run_floor(scenario: Path, work: Path) -> dict:
    import rasterio

    t = time.perf_counter()
    total = 0.0
    with rasterio.open(scenario / "population.tif") as ds:
        for _, win in ds.block_windows(1):
            total += float(ds.read(1, window=win).sum())
    return {"seconds": time.perf_counter() - t, "sum": total}


def _child(method: str, scenario: Path, work: Path) -> None:
    runner = {"project": _run_project, "floor": _run_floor,
              "reference": lambda s, w: _run_reference(s, w, "rasterstats"),
              "exactextract": lambda s, w: _run_reference(s, w, "exactextract")}[method]
    result = runner(scenario, work)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (work / f"{method}.json").write_text(json.dumps(result, default=float))


def run_method(method: str, scenario: Path, work: Path) -> dict:
    """Run one method in a fresh process; its wall time includes start-up and imports."""
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "benchmarks.national", "--child", method, str(scenario), str(work)],
                   check=True)
    wall = time.perf_counter() - t
    result = json.loads((work / f"{method}.json").read_text())
    result["wall_seconds"] = wall
    return result


def _agreement(a: dict, b: dict, households: pd.Series, province: pd.Series) -> dict:
    """Differences in household percentage points over the communes both place: the largest per
    commune, the 99th percentile, and the largest per province (households-weighted)."""
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
            "villages_max_diff": villages}


def benchmark(arcsec: float, n_sites: int, work_root: Path, methods: list[str]) -> dict:
    from benchmarks.workload import grid_shape, make_workload

    scenario = make_workload(work_root / f"workload-{arcsec:g}-{n_sites}", arcsec=arcsec, n_sites=n_sites)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=work_root))
    results = {m: run_method(m, scenario, work) for m in methods}
    h, w = grid_shape(arcsec)
    row = {"arcsec": arcsec, "cells": h * w, "sites": n_sites, "layers": len(LAYERS)}
    for m, r in results.items():
        row[f"{m}_s"] = round(r["seconds"], 2)
        row[f"{m}_peak_mib"] = round(r["peak_rss_mib"])
    p = results["project"]["seconds"]
    for m in ("reference", "exactextract", "floor"):
        if m in results:
            row[f"{m}/project"] = round(results[m]["seconds"] / p, 2)
    hh = pd.read_csv(scenario / "households.csv", dtype={"commune_code": str}).set_index("commune_code")["households"]
    from geodata import load_registry

    province = load_registry().units("63", "commune").set_index("code")["parent_code"]
    for m in ("reference", "exactextract"):
        if m in results:
            agree = _agreement(results["project"], results[m], hh, province)
            row[f"{m}_commune_max_pp"] = round(agree["max_pp"], 4)
            row[f"{m}_commune_p99_pp"] = round(agree["p99_pp"], 4)
            row[f"{m}_province_max_pp"] = round(agree["province_max_pp"], 4)
            row[f"{m}_villages_max_diff"] = agree["villages_max_diff"]
            row["communes_compared"] = agree["communes"]
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--resolution", type=float, nargs="+", default=[30.0], help="arc-seconds (30, 9, 3)")
    parser.add_argument("--sites", type=int, nargs="+", default=[100_000])
    parser.add_argument("--methods", nargs="+", default=["project", "reference", "exactextract", "floor"])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "vnbb-bench")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, arcsec in enumerate(args.resolution):
        for j, n in enumerate(args.sites):
            methods = args.methods if j == 0 else ["project", "floor"]
            rows.append(benchmark(arcsec, n, args.work, methods))
            print(json.dumps(rows[-1]), flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y-%m-%d")
    record = {"date": stamp, "machine": machine(), "rows": rows}
    (RESULTS / f"national-{stamp}.json").write_text(json.dumps(record, indent=2))
    print(json.dumps(record["machine"]))


if __name__ == "__main__":
    main()
