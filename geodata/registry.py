"""One registry of administrative units for both schemes, with the 63 -> 34 crosswalk.

Units and their centres come from the ``vietnamadminunits`` package; the crosswalk comes from the
reference data folder (``crosswalk/``) when it is there, else from the package's conversion table.
Every frame carries a ``source`` column saying which.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from geodata import _package
from geodata._aliases import PROVINCE_ALIASES
from geodata.errors import AmbiguousUnitError, DataFileError, UnknownUnitError
from geodata.names import name_key, name_keys
from geodata.settings import data_dir as _resolve_data_dir

Scheme = Literal["63", "34"]
Level = Literal["province", "commune"]
SCHEMES: tuple[Scheme, ...] = ("63", "34")
LEVELS: tuple[Level, ...] = ("province", "commune")


@dataclass(frozen=True)
class Unit:
    """A resolved administrative unit."""

    code: str
    name: str
    short_name: str
    type: str
    level: Level
    scheme: Scheme
    parent_code: str | None
    note: str = ""


def _check_scheme(scheme: str) -> Scheme:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be '63' or '34', not {scheme!r}")
    return scheme  # type: ignore[return-value]


class Registry:
    """Units of both schemes, name resolution, and the crosswalk between the schemes."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = data_dir
        self.units_source = _package.package_label()
        self._provinces = {s: self._build_provinces(s) for s in SCHEMES}
        self._communes = {s: self._build_communes(s) for s in SCHEMES}
        self._commune_index = {s: _NameIndex(self._communes[s]) for s in SCHEMES}
        self.province_crosswalk, self.commune_crosswalk, self.crosswalk_source = self._load_crosswalk()

    # -- building -------------------------------------------------------------------------------
    def _build_provinces(self, scheme: Scheme) -> pd.DataFrame:
        df = _package.provinces(scheme)[["code", "name", "short_name", "type"]].copy()
        df["parent_code"] = None
        df["source"] = self.units_source
        df["key"] = name_keys(df["short_name"])
        return df

    def _build_communes(self, scheme: Scheme) -> pd.DataFrame:
        df = _package.communes(scheme).drop(columns=["key"]).copy()
        df["source"] = self.units_source
        df["key"] = [name_key(s, strip_type=False) for s in df["short_name"]]
        df["full_key"] = [name_key(s, strip_type=False) for s in df["name"]]
        return df

    def _load_crosswalk(self) -> tuple[pd.DataFrame, pd.DataFrame, str]:
        folder = self.data_dir / "crosswalk" if self.data_dir else None
        if folder and (folder / "provinces_63_to_34.csv").is_file():
            prov = _read_csv(folder / "provinces_63_to_34.csv", ["old_province_code", "new_province_code"])
            prov = prov.rename(columns={"old_province_code": "old_code", "new_province_code": "new_code"})
            comm_path = folder / "communes_old_to_new.csv"
            if comm_path.is_file():
                comm = _read_csv(comm_path, ["old_commune_code", "new_commune_code", "relation"])
                comm = comm.rename(columns={"old_commune_code": "old_code", "new_commune_code": "new_code"})
                comm = comm[comm["old_code"].notna() & (comm["old_code"] != "")]
            else:
                comm = _package.commune_crosswalk()
            source = f"data folder ({folder})"
        else:
            prov, comm = _package.province_crosswalk(), _package.commune_crosswalk()
            source = self.units_source
        prov = prov[["old_code", "new_code"]].copy()
        prov["old_name"] = prov["old_code"].map(self._provinces["63"].set_index("code")["name"])
        prov["new_name"] = prov["new_code"].map(self._provinces["34"].set_index("code")["name"])
        _validate_province_crosswalk(prov, self, source)
        comm = comm[["old_code", "new_code", "relation"]].reset_index(drop=True)
        return prov.reset_index(drop=True), comm, source

    # -- listing --------------------------------------------------------------------------------
    def units(self, scheme: str = "63", level: str = "province") -> pd.DataFrame:
        """Units of a scheme and level: code, name, short_name, type, parent_code, ..., source."""
        scheme = _check_scheme(scheme)
        if level == "province":
            return self._provinces[scheme].drop(columns="key").copy()
        if level == "commune":
            return self._communes[scheme].drop(columns=["key", "full_key"]).copy()
        raise ValueError(f"level must be 'province' or 'commune', not {level!r}")

    def province_name(self, code: str, scheme: str = "63") -> str:
        """Official name of a province by code."""
        table = self._provinces[_check_scheme(scheme)].set_index("code")
        return str(table.at[code, "name"])

    def new_province_of(self, old_codes: pd.Series | list[str]) -> pd.Series:
        """The 34-scheme province of each 63-scheme province code."""
        mapping = self.province_crosswalk.set_index("old_code")["new_code"]
        return pd.Series(old_codes).map(mapping)

    # -- resolving ------------------------------------------------------------------------------
    def resolve(self, name: str, scheme: str = "63", level: str = "province",
                province: str | None = None) -> Unit:
        """The one unit ``name`` means, or :class:`UnitNameError` explaining why there is none.

        A name that is not a unit of this scheme and level (a city inside a province, a former
        province, a misspelling) is never mapped silently: the error names what it is and
        suggests the likely unit(s).
        """
        scheme = _check_scheme(scheme)
        text = str(name).strip()
        if level == "province":
            return self._resolve_province(text, scheme)
        if level == "commune":
            return self._resolve_commune(text, scheme, province)
        raise ValueError(f"level must be 'province' or 'commune', not {level!r}")

    def _unit(self, row: pd.Series, level: Level, scheme: Scheme, note: str = "") -> Unit:
        parent = row.get("parent_code")
        return Unit(str(row["code"]), str(row["name"]), str(row["short_name"]), str(row["type"]),
                    level, scheme, None if pd.isna(parent) else str(parent), note)

    def _resolve_province(self, text: str, scheme: Scheme) -> Unit:
        table = self._provinces[scheme]
        if not text:
            raise UnknownUnitError(text, "An empty name is not a province.")
        if text.isdigit():
            hit = table[table["code"] == text.zfill(2)]
            if len(hit):
                return self._unit(hit.iloc[0], "province", scheme, "code")
            raise UnknownUnitError(text, f"'{text}' is not a province code in the {scheme}-unit scheme.")
        keys = _candidate_keys(text)
        for key in keys:
            hit = table[table["key"] == key]
            if len(hit) == 1:
                return self._unit(hit.iloc[0], "province", scheme)
            alias = PROVINCE_ALIASES[scheme].get(key)
            if alias:
                row = table[table["code"] == alias[0]].iloc[0]
                return self._unit(row, "province", scheme, alias[1])
        self._explain_non_province(text, keys, scheme)
        raise AssertionError("unreachable")  # pragma: no cover

    def _explain_non_province(self, text: str, keys: list[str], scheme: Scheme) -> None:
        """Raise the most helpful error for a name that is not a province of ``scheme``."""
        key = keys[0]
        # A former province (in the 34 scheme): say what it became.
        if scheme == "34":
            old = self._provinces["63"]
            hit = old[old["key"].isin(keys)]
            alias = next((PROVINCE_ALIASES["63"][k] for k in keys if k in PROVINCE_ALIASES["63"]), None)
            old_code = hit.iloc[0]["code"] if len(hit) else (alias[0] if alias else None)
            if old_code:
                new_code = self.province_crosswalk.set_index("old_code").at[old_code, "new_code"]
                old_name = self.province_name(old_code, "63")
                new_name = self.province_name(new_code, "34")
                raise UnknownUnitError(
                    text,
                    f"'{text}' is {old_name}, a province of the 63-unit scheme (code {old_code}) "
                    f"until 1 July 2025; it is now part of {new_name} (code {new_code}).",
                    [(new_code, new_name)],
                )
        # A district or commune of that name: not a province, but we know where it is.
        places = self._places_named(keys)
        if len(places):
            parents = self._suggest_parents(places, scheme)
            what = "; ".join(places["what"].head(4))
            more = f" and {len(places) - 4} more" if len(places) > 4 else ""
            raise UnknownUnitError(
                text, f"'{text}' is not a provincial unit of the {scheme}-unit scheme: it is {what}{more}.",
                parents,
            )
        # Partial or misspelt names: suggest, never map.
        choices = dict(zip(self._provinces[scheme]["key"], self._provinces[scheme]["code"]))
        choices.update({k: v[0] for k, v in PROVINCE_ALIASES[scheme].items()})
        prefix = sorted({code for k, code in choices.items() if len(key) >= 3 and k.startswith(key)})
        if len(prefix) > 1:
            raise AmbiguousUnitError(
                text, f"'{text}' could be any of {len(prefix)} provinces.", self._named(prefix, scheme)
            )
        matches = process.extract(key, list(choices), scorer=fuzz.WRatio, limit=5, score_cutoff=80)
        codes = list(dict.fromkeys([choices[m[0]] for m in matches] + prefix))[:3]
        raise UnknownUnitError(text, f"'{text}' matches no province of the {scheme}-unit scheme.",
                               self._named(codes, scheme))

    def _named(self, codes: list[str], scheme: Scheme) -> list[tuple[str, str]]:
        return [(c, self.province_name(c, scheme)) for c in codes]

    def _places_named(self, keys: list[str]) -> pd.DataFrame:
        """Districts (63 scheme) and communes (both schemes) whose short name has one of ``keys``."""
        frames = []
        d = _package.districts()
        dkeys = name_keys(d["short_name"])
        hit = d[pd.Series(dkeys, index=d.index).isin(keys)]
        if len(hit):
            prov = self._provinces["63"].set_index("code")["short_name"]
            frames.append(pd.DataFrame({
                "what": [f"{n}, a district-level unit of {prov[p]} (until 1 July 2025)"
                         for n, p in zip(hit["name"], hit["parent_code"])],
                "old_province": hit["parent_code"].to_numpy(), "new_province": None,
            }))
        for scheme in SCHEMES:
            c = self._communes[scheme]
            hit = c[c["key"].isin(keys)]
            if len(hit):
                prov = self._provinces[scheme].set_index("code")["short_name"]
                frames.append(pd.DataFrame({
                    "what": [f"{n} ({scheme}-unit scheme), a commune-level unit of {prov[p]}"
                             for n, p in zip(hit["name"], hit["parent_code"])],
                    "old_province": hit["parent_code"].to_numpy() if scheme == "63" else None,
                    "new_province": hit["parent_code"].to_numpy() if scheme == "34" else None,
                }))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def _suggest_parents(self, places: pd.DataFrame, scheme: Scheme) -> list[tuple[str, str]]:
        if scheme == "63":
            codes = places["old_province"].dropna()
        else:
            codes = pd.concat([self.new_province_of(places["old_province"].dropna()),
                               places["new_province"].dropna()])
        return self._named(list(dict.fromkeys(codes))[:5], scheme)

    def _resolve_commune(self, text: str, scheme: Scheme, province: str | None) -> Unit:
        index = self._commune_index[scheme]
        parent = self.resolve(province, scheme, "province").code if province else None
        if text.isdigit():
            rows = index.rows("code", [text.zfill(5)], parent)
            if len(rows):
                return index.unit(int(rows[0]), scheme, "code")
            raise UnknownUnitError(text, f"'{text}' is not a commune code of the {scheme}-unit scheme.")
        keys = _candidate_keys(text)
        # A typed prefix ("Phường", "Xã") narrows the match to that type.
        rows = index.rows("full_key", [name_key(text, strip_type=False)], parent)
        if not len(rows):
            rows = index.rows("key", keys, parent)
        if len(rows) > 1:  # "Phù Linh" is not "Phú Linh": a name spelt exactly, diacritics and all, decides
            spelt = [i for i in rows if _spelling(text) in index.spellings[int(i)]]
            rows = np.asarray(spelt) if len(spelt) == 1 else rows
        if len(rows) == 1:
            return index.unit(int(rows[0]), scheme)
        prov_names = dict(zip(self._provinces[scheme]["code"], self._provinces[scheme]["short_name"]))
        if len(rows) > 1:
            raise AmbiguousUnitError(
                text, f"'{text}' names {len(rows)} communes of the {scheme}-unit scheme; "
                      "give the province (or the code).", index.options(rows[:8], prov_names))
        raise UnknownUnitError(text, f"'{text}' matches no commune of the {scheme}-unit scheme"
                               + (" in that province." if province else "."),
                               index.options(index.similar(keys[0], parent, 3), prov_names))


class _NameIndex:
    """Row positions of a unit table by code, name key and full-name key, and by province, so
    that each of a national file's thousands of names is a dictionary look-up rather than a scan
    of every commune (and no pandas indexing per name)."""

    _COLUMNS = ("code", "name", "short_name", "type", "parent_code", "key", "full_key")

    def __init__(self, table: pd.DataFrame) -> None:
        self.columns: dict[str, list] = {c: table[c].tolist() for c in self._COLUMNS}
        self.spellings = [(_spelling(n), _spelling(s)) for n, s in zip(table["name"], table["short_name"])]
        self.by = {col: {k: np.asarray(v) for k, v in table.groupby(col, sort=False).indices.items()}
                   for col in ("code", "key", "full_key")}
        self._parents = {k: np.asarray(v) for k, v in table.groupby("parent_code", sort=False).indices.items()}
        self._all = np.arange(len(table))
        self._distinct = list(self.by["key"])

    def scope(self, parent: str | None) -> np.ndarray:
        """Positions of the units of one province (all units when ``parent`` is None)."""
        return self._all if parent is None else self._parents.get(parent, self._all[:0])

    def rows(self, column: str, keys: list[str], parent: str | None) -> np.ndarray:
        """Positions (in table order) of the units whose ``column`` is one of ``keys``."""
        found = [self.by[column][k] for k in keys if k in self.by[column]]
        rows = np.unique(np.concatenate(found)) if found else self._all[:0]
        return np.intersect1d(rows, self.scope(parent)) if parent is not None else rows

    def similar(self, key: str, parent: str | None, limit: int) -> list[int]:
        """Positions of the units whose key is most like ``key`` (misspellings), best first and in
        table order among equals.

        Each distinct key is scored once (a third of the communes share a name with another).
        """
        if parent is None:
            choices = self._distinct
        else:
            choices = list(dict.fromkeys(self.columns["key"][i] for i in self.scope(parent)))
        matches = process.extract(key, choices, scorer=fuzz.WRatio, limit=None, score_cutoff=85)
        scored = sorted((-score, int(i)) for match, score, _ in matches for i in self.rows("key", [match], parent))
        return [i for _, i in scored[:limit]]

    def unit(self, i: int, scheme: Scheme, note: str = "") -> Unit:
        c = self.columns
        parent = c["parent_code"][i]
        return Unit(str(c["code"][i]), str(c["name"][i]), str(c["short_name"][i]), str(c["type"][i]), "commune",
                    scheme, None if pd.isna(parent) else str(parent), note)

    def options(self, rows: object, prov_names: dict[str, str]) -> list[tuple[str, str]]:
        """(code, "name, province") of the rows, for suggestions."""
        c = self.columns
        return [(c["code"][i], f"{c['name'][i]}, {prov_names[c['parent_code'][i]]}") for i in map(int, rows)]


def _spelling(text: str) -> str:
    """A name as written, diacritics kept (only case, Unicode form and spacing ignored)."""
    return " ".join(unicodedata.normalize("NFC", str(text)).casefold().split())


def _candidate_keys(text: str) -> list[str]:
    """Keys to try for user input: with the type prefix stripped first, then as typed."""
    keys = [name_key(text), name_key(text, strip_type=False)]
    return [k for k in dict.fromkeys(keys) if k]


def _read_csv(path: Path, required: list[str]) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataFileError(path, f"cannot be read as a UTF-8 CSV file ({exc}).") from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataFileError(path, f"lacks the column(s) {', '.join(missing)}; found {', '.join(df.columns)}.")
    return df


def _validate_province_crosswalk(prov: pd.DataFrame, registry: Registry, source: str) -> None:
    problems = []
    dup = prov[prov["old_code"].duplicated(keep=False)]
    problems += [f"row {i + 2}: old_code {c} appears more than once" for i, c in dup["old_code"].items()]
    problems += [f"row {i + 2}: old_code {c} is not a 63-scheme province"
                 for i, c in prov.loc[prov["old_name"].isna(), "old_code"].items()]
    problems += [f"row {i + 2}: new_code {c} is not a 34-scheme province"
                 for i, c in prov.loc[prov["new_name"].isna(), "new_code"].items()]
    missing = set(registry._provinces["63"]["code"]) - set(prov["old_code"])
    problems += [f"old province {c} is not mapped" for c in sorted(missing)]
    if problems:
        raise DataFileError(source, "the 63 -> 34 province crosswalk is inconsistent.", problems)


@lru_cache(maxsize=4)
def _cached(path: str | None) -> Registry:
    return Registry(Path(path) if path else None)


def load_registry(data_dir: str | Path | None = None) -> Registry:
    """The registry for a data folder (``VNBB_DATA_DIR`` when not given), built once per folder."""
    folder = _resolve_data_dir(data_dir)
    return _cached(str(folder) if folder else None)
