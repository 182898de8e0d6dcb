"""Normalising Vietnamese unit names so that spellings people actually use compare equal.

A key is the name folded to ASCII lower case (diacritics dropped, đ -> d), with the
administrative prefix ("Tỉnh", "Thành phố", "TP.", "Xã", "Phường", ...) and an English
"province"/"city" suffix removed, and with every character that is not a letter or digit dropped.
So "TP. Hồ Chí Minh", "Ho Chi Minh City" and "hochiminh" share the key ``hochiminh``.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

# Prefixes that name the unit's type, longest first so "thanh pho" wins over "thanh".
_PREFIXES = (
    "thanh pho truc thuoc trung uong",
    "thanh pho",
    "tinh",
    "tp",
    "thi tran",
    "thi xa",
    "dac khu",
    "phuong",
    "xa",
    "quan",
    "huyen",
)
_SUFFIXES = ("province", "city", "municipality")
_PREFIX_RE = re.compile(r"^(?:" + "|".join(p.replace(" ", r"\s*") for p in _PREFIXES) + r")\b\.?\s*")
_SUFFIX_RE = re.compile(r"\s+(?:" + "|".join(_SUFFIXES) + r")$")
_NON_ALNUM_RE = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lower-case ASCII form of ``text``: diacritics removed, đ/Đ to d, spaces collapsed."""
    text = unicodedata.normalize("NFKD", str(text)).replace("đ", "d").replace("Đ", "D")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.lower().replace("_", " ").replace("-", " ")
    return re.sub(r"\s+", " ", text).strip()


def name_key(name: str, *, strip_type: bool = True) -> str:
    """Comparison key of a unit name (see the module docstring)."""
    text = fold(name)
    text = text.replace(".", ". ")
    text = re.sub(r"\s+", " ", text).strip()
    if strip_type:
        stripped = _PREFIX_RE.sub("", text, count=1)
        # Keep the prefix when it is the whole name ("Phường 1" -> "1" is fine, "Xã" alone is not).
        if stripped:
            text = stripped
        text = _SUFFIX_RE.sub("", text)
    return _NON_ALNUM_RE.sub("", text)


def name_keys(names: pd.Series | list[str] | np.ndarray) -> np.ndarray:
    """Vectorised :func:`name_key` over many names (cached per distinct value)."""
    values = pd.Series(names, dtype="object")
    uniques = values.dropna().unique()
    table = {v: name_key(v) for v in uniques}
    return values.map(table).fillna("").to_numpy(dtype=object)
