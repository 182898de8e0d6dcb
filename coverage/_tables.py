"""Reading the spreadsheets people send: CSV in any of the encodings Excel writes, and XLSX.

CSV: UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode text", tab separated) and
Windows-1258 (Excel's "CSV" on a Vietnamese Windows, with combining tone marks, normalised to
NFC here); comma, semicolon or tab separated. XLSX: the sheet holding the expected columns, its
header on any of the first rows (title rows above it, merged or not, are skipped).

Column names are matched loosely (case, diacritics, spaces) and the usual names are accepted for
coordinates (``lng``, ``x``, ``kinh độ`` ... for ``lon``). Every value is returned as text; the
frame's index is the row number a spreadsheet shows, so problems can name it.
"""

from __future__ import annotations

import codecs
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geodata._archive import check_file
from geodata.errors import DataFileError

TABLE_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")
ALIASES: dict[str, tuple[str, ...]] = {
    "lon": ("lon", "lng", "long", "longitude", "x", "kinh_do", "kinhdo"),
    "lat": ("lat", "latitude", "y", "vi_do", "vido"),
    "commune_code": ("commune_code", "ma_xa", "commune", "commune_name", "xa", "ten_xa", "ma_xa_phuong"),
    "province": ("province", "province_code", "province_name", "tinh", "ma_tinh", "ten_tinh", "tinh_thanh_pho"),
    "households": ("households", "so_ho", "ho", "tong_so_ho"),
    "village_id": ("village_id", "ma_thon", "id_thon"),
    "name": ("name", "ten", "ten_thon", "village_name"),
    "site_id": ("site_id", "ma_tram", "cell_id"),
    "operator": ("operator", "nha_mang", "doanh_nghiep"),
    "technology": ("technology", "tech", "cong_nghe"),
    "radius_m": ("radius_m", "radius", "ban_kinh", "ban_kinh_m"),
}
_HEADER_SEARCH_ROWS = 30


@dataclass
class Table:
    """A table read from a file: text values, index = spreadsheet row numbers."""

    frame: pd.DataFrame
    path: Path
    note: str
    renamed: dict[str, str]


def column_key(name: object) -> str:
    """A column name without case, diacritics or punctuation: 'Kinh độ' -> 'kinh_do'."""
    text = unicodedata.normalize("NFD", str(name)).replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def _canonical(columns: list[str], wanted: list[str]) -> dict[str, str]:
    """Original column -> canonical name, for the wanted columns that are found."""
    lookup: dict[str, str] = {}
    for canon in wanted:
        for alias in (canon, *ALIASES.get(canon, ())):
            lookup.setdefault(column_key(alias), canon)
    out: dict[str, str] = {}
    for col in columns:
        canon = lookup.get(column_key(col))
        if canon and canon not in out.values():
            out[col] = canon
    return out


def _decode(raw: bytes, path: Path) -> tuple[str, str]:
    """Text and encoding name of a CSV file's bytes."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:].decode("utf-8", errors="strict"), "UTF-8 with BOM"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError as exc:
            raise DataFileError(path, f"starts as UTF-16 text but is cut or corrupt ({exc}). Save it again.") from exc
    head = raw[:4096]
    if head.count(b"\x00") > len(head) // 4:
        raise DataFileError(path, "is not a text table (it holds binary data): is it a spreadsheet saved with the "
                                  "wrong extension, or corrupt? Save it as CSV UTF-8 or XLSX.")
    try:
        return raw.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError as utf8_error:
        try:
            text = raw.decode("cp1258")
        except UnicodeDecodeError as exc:
            raise DataFileError(path, f"is neither UTF-8 ({utf8_error}) nor Windows-1258 text. Save it as "
                                      "CSV UTF-8.") from exc
        return unicodedata.normalize("NFC", text), "Windows-1258"


def _separator(text: str) -> str:
    header = text.split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=lambda s: counts[s]) if max(counts.values()) else ","


def _read_csv(path: Path, wanted: list[str]) -> Table:
    text, encoding = _decode(path.read_bytes(), path)
    text = unicodedata.normalize("NFC", text) if encoding != "Windows-1258" else text
    if not text.strip():
        raise DataFileError(path, "holds no text (only blank lines). Export the table again.")
    sep = _separator(text)
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except pd.errors.ParserError as exc:
        raise DataFileError(path, f"cannot be parsed as a table ({exc}): a row with more fields than the "
                                  "header (an unquoted separator inside a value?). Fix that row.") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataFileError(path, "holds no header row. Export the table again with its column names.") from exc
    df.index = pd.RangeIndex(2, len(df) + 2)
    names = {",": "comma", ";": "semicolon", "\t": "tab"}
    return _finish(df, path, wanted, f"encoding {encoding}, {names[sep]} separated")


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value).strip()


def _read_xlsx(path: Path, wanted: list[str], required: list[str], sheet: str | None) -> Table:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as exc:
        raise DataFileError(path, f"cannot be read as an XLSX workbook ({exc}): is it truncated or corrupt, or an "
                                  "old .xls? Save it again as .xlsx or CSV UTF-8.") from exc
    try:
        names = [sheet] if sheet else list(book.sheetnames)
        if sheet and sheet not in book.sheetnames:
            raise DataFileError(path, f"has no sheet {sheet!r}; its sheets are {', '.join(book.sheetnames)}.")
        seen: list[str] = []
        for name in names:
            rows = book[name].iter_rows(values_only=True)
            head = []
            for _ in range(_HEADER_SEARCH_ROWS):
                try:
                    head.append(next(rows))
                except StopIteration:
                    break
            for h, cells in enumerate(head):
                labels = [_cell_text(c) for c in cells]
                found = set(_canonical([x for x in labels if x], wanted).values())
                if set(required) <= found:
                    body = [[_cell_text(c) for c in r] for r in head[h + 1:]]
                    body += [[_cell_text(c) for c in r] for r in rows]
                    width = len(labels)
                    body = [(r + [""] * width)[:width] for r in body]
                    cols = [x or f"column {i + 1}" for i, x in enumerate(labels)]
                    df = pd.DataFrame(body, columns=cols, dtype=object)
                    df.index = pd.RangeIndex(h + 2, h + 2 + len(df))
                    note = f"sheet {name!r}, header on row {h + 1}"
                    if len(names) > 1:
                        note += f" (of sheets {', '.join(repr(n) for n in names)})"
                    return _finish(df, path, wanted, note)
            best = max(head, key=lambda r: len(_canonical([_cell_text(c) for c in r if c is not None], wanted)),
                       default=())
            found = set(_canonical([_cell_text(c) for c in best if c is not None], wanted).values())
            seen.append(f"sheet {name!r}: lacks {', '.join(c for c in required if c not in found)}")
        raise DataFileError(path, f"has no sheet with the columns {', '.join(required)} in its first "
                                  f"{_HEADER_SEARCH_ROWS} rows. Add a header row with these names.", seen)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DataFileError(path, f"cannot be read as an XLSX workbook ({exc}): is it truncated or corrupt? "
                                  "Save it again.") from exc
    finally:
        book.close()


def _finish(df: pd.DataFrame, path: Path, wanted: list[str], note: str) -> Table:
    df.columns = [str(c).strip() for c in df.columns]
    df = df.fillna("").astype(str)
    blank = (df.apply(lambda c: c.str.strip()) == "").all(axis=1)
    df = df[~blank.to_numpy()]
    mapping = _canonical(list(df.columns), wanted)
    df = df.rename(columns=mapping)
    renamed = {k: v for k, v in mapping.items() if k != v}
    if renamed:
        note += "; columns " + ", ".join(f"{k!r} as {v}" for k, v in renamed.items())
    return Table(df, path, note, renamed)


def read_table(path: Path | str, required: list[str], optional: list[str] = (), *, sheet: str | None = None,
               limit: int | None = None) -> Table:
    """Read a CSV or XLSX table, find its columns, and check the required ones are there."""
    path = check_file(path, limit)
    wanted = [*required, *optional]
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        table = _read_xlsx(path, wanted, required, sheet)
    elif suffix == ".xls":
        raise DataFileError(path, "is an old Excel .xls workbook: save it as .xlsx or CSV UTF-8.")
    else:
        table = _read_csv(path, wanted)
    missing = [c for c in required if c not in table.frame.columns]
    if missing:
        raise DataFileError(path, f"lacks the column(s) {', '.join(missing)}; found "
                                  f"{', '.join(map(str, table.frame.columns))}. Rename or add the column(s).")
    if len(table.frame) == 0:
        raise DataFileError(path, "has a header but no rows.")
    return table


_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:([.,  ])\d{3})+$")


def numbers(raw: pd.Series, kind: str) -> pd.Series:
    """Text to numbers (NaN where not a number): decimal commas for ``float``, thousands
    separators (``1.234``, ``1,234``, ``1 234``) for whole numbers."""
    text = raw.str.strip().str.replace("\u00a0", " ", regex=False)
    if kind == "float":
        text = text.where(~text.str.match(_DECIMAL_COMMA), text.str.replace(",", ".", regex=False))
    else:
        grouped = text.str.match(_THOUSANDS)
        text = text.where(~grouped, text.str.replace(r"[., \u202f]", "", regex=True))
    values = pd.to_numeric(text, errors="coerce")
    return values.where(np.isfinite(values))
