"""Spreading commune household totals inside communes with a population raster (dasymetric).

Households not in any listed village (a commune's *remainder*) have no coordinates of their own.
With a population raster, each commune's remainder is spread over the raster cells whose centre
lies in the commune, in proportion to the cells' values (uniformly when the commune's cells are
all zero); a commune too small to hold a cell centre puts its remainder in the cell under its
centre point. Each located share is then covered or not like any point, so coverage of the
remainder follows where people live rather than the commune average.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from pyproj import CRS, Transformer
from rasterio import features

from geodata.crs import DISPLAY_CRS


@dataclass(frozen=True)
class PopulationGrid:
    """Population (or households) per cell, any non-negative scale; nodata already set to 0."""

    values: np.ndarray
    transform: Affine
    crs: CRS
    file: str
    provenance: str
    as_of: str

    def cell_of(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row and column of the cell under each point, and whether the point is on the grid."""
        x, y = Transformer.from_crs(DISPLAY_CRS, self.crs, always_xy=True).transform(
            np.asarray(lon, float), np.asarray(lat, float))
        col, row = ~self.transform @ (x, y)
        row, col = np.floor(row).astype(np.int64), np.floor(col).astype(np.int64)
        h, w = self.values.shape
        return row, col, (row >= 0) & (row < h) & (col >= 0) & (col < w)

    def centres(self, row: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lon/lat of cell centres."""
        x, y = self.transform @ (np.asarray(col) + 0.5, np.asarray(row) + 0.5)
        return Transformer.from_crs(self.crs, DISPLAY_CRS, always_xy=True).transform(x, y)


def spread(remainder: pd.Series, grid: PopulationGrid, communes: gpd.GeoDataFrame,
           centres: pd.DataFrame) -> pd.DataFrame:
    """Located remainder households: one row per (commune, cell) holding some of them.

    ``remainder`` maps 63-scheme commune codes to households; ``communes`` has their polygons
    (``code``, geometry), ``centres`` their ``code``, ``lon``, ``lat``. Columns returned:
    ``commune_code, row, col, lon, lat, households``. A commune off the grid is left out (the
    caller keeps its remainder unlocated).
    """
    rem = remainder[remainder > 0]
    polys = communes[communes["code"].isin(rem.index)].to_crs(grid.crs)
    codes = polys["code"].to_numpy()
    label = features.rasterize(zip(polys.geometry, range(1, len(codes) + 1)), out_shape=grid.values.shape,
                               transform=grid.transform, fill=0, dtype="int32")
    weight = grid.values
    k = len(codes) + 1
    total = np.bincount(label.ravel(), weights=weight.ravel(), minlength=k)
    count = np.bincount(label.ravel(), minlength=k)
    rows, cols = np.nonzero(label)
    lab = label[rows, cols]
    share = np.where(total[lab] > 0, weight[rows, cols] / np.where(total[lab] > 0, total[lab], 1),
                     1.0 / np.maximum(count[lab], 1))
    hh = rem.reindex(codes).to_numpy(float)[lab - 1] * share
    cells = pd.DataFrame({"commune_code": codes[lab - 1], "row": rows, "col": cols, "households": hh})
    # Communes holding no cell centre: the cell under their centre point.
    small = rem.index.difference(pd.Index(codes[count[1:] > 0]))
    c = centres.set_index("code").reindex(small)
    r, q, on_grid = grid.cell_of(c["lon"].to_numpy(), c["lat"].to_numpy())
    extra = pd.DataFrame({"commune_code": small[on_grid], "row": r[on_grid], "col": q[on_grid],
                          "households": rem.reindex(small[on_grid]).to_numpy(float)})
    cells = pd.concat([cells[cells["households"] > 0], extra], ignore_index=True)
    cells["lon"], cells["lat"] = grid.centres(cells["row"].to_numpy(), cells["col"].to_numpy())
    return cells
