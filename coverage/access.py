"""Who may see and do what: the rules for the ministry, provinces and operators, applied to data.

The rules live here, next to the data, not in the pages: every reader of sites, villages, layers
and exports takes a :class:`Principal` and gets only what that principal may see, so a crafted
request (URL parameters, edited session state, a direct call of the export function) reaches
nothing more than the page would show.

- ministry: everything, and decides challenges.
- province: national and provincial figures everywhere; its own units in full detail (villages
  and communes); no operator's site list; files challenges about its own units only.
- operator: aggregate figures and gap layers for everyone; its own site list and its own raw
  coverage only (other operators' per-operator layers are withheld); files challenges about its
  own network only.
- local: the single-user mode of a machine with no users configured; sees and does everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from geodata.errors import VnbbError

Role = Literal["ministry", "province", "operator", "local"]
ROLES: tuple[str, ...] = ("ministry", "province", "operator")


class AccessDenied(VnbbError):
    """The signed-in user may not see or do this (the message says what their role allows)."""


@dataclass(frozen=True)
class Principal:
    """The person a request is made for: name, role, and the province or operator they act for.

    ``province`` is a province code in ``scheme`` (the 34-unit scheme by default: provinces are
    those units now).
    """

    name: str
    role: Role
    province: str | None = None
    scheme: str = "34"
    operator: str | None = None

    def __post_init__(self) -> None:
        if self.role not in (*ROLES, "local"):
            raise AccessDenied(f"unknown role {self.role!r}; expected one of {', '.join(ROLES)}")
        if self.role == "province" and not self.province:
            raise AccessDenied(f"user {self.name!r} has the province role but no province")
        if self.role == "operator" and not self.operator:
            raise AccessDenied(f"user {self.name!r} has the operator role but no operator")

    @property
    def sees_everything(self) -> bool:
        return self.role in ("ministry", "local")

    def describe(self) -> str:
        """A short label for the page header and the audit log."""
        extra = self.province if self.role == "province" else self.operator if self.role == "operator" else ""
        return f"{self.name} ({self.role}{': ' + extra if extra else ''})"


LOCAL = Principal(name="local", role="local")


def layer_operator(layer_key: str) -> str:
    """The operator of a layer key ``{technology}__{operator}`` (``all`` for aggregate layers)."""
    return layer_key.split("__", 1)[1] if "__" in layer_key else "all"


def may_see_layer(who: Principal, layer_key: str) -> bool:
    """Aggregate layers (all operators) are public; an operator's own layer only to it and the ministry."""
    op = layer_operator(layer_key)
    return op == "all" or who.sees_everything or (who.role == "operator" and op == who.operator)


def visible_layers(who: Principal, layers: list[str]) -> list[str]:
    """The layers of a store this principal may see, in store order."""
    return [k for k in layers if may_see_layer(who, k)]


def manifest_view(who: Principal, manifest: dict) -> dict:
    """The store's manifest as the principal may see it: other operators' layers, their names
    in the operator lists and their layer sources left out, so every choice offered (and every
    choice repaired from a crafted session) stays within what the role allows."""
    if who.sees_everything:
        return manifest
    layers = visible_layers(who, list(manifest.get("layers", [])))
    ops = {layer_operator(k) for k in layers}
    out = dict(manifest)
    out["layers"] = layers
    out["mobile_operators"] = [o for o in manifest.get("mobile_operators", []) if o in ops]
    out["fixed_operators"] = [o for o in manifest.get("fixed_operators", []) if o in ops]
    out["layer_sources"] = {k: v for k, v in manifest.get("layer_sources", {}).items() if k in layers}
    return out


def check_layer(who: Principal, layer_key: str) -> None:
    """Raise :class:`AccessDenied` unless the principal may see the layer."""
    if not may_see_layer(who, layer_key):
        raise AccessDenied(f"{who.describe()} may not see the per-operator layer {layer_key!r}: "
                           "operators see aggregate layers and their own network only")


def sites(who: Principal, table: pd.DataFrame) -> pd.DataFrame:
    """The site rows the principal may see: all for the ministry, its own for an operator,
    none for a province (site lists are operators' commercial data)."""
    if who.sees_everything:
        return table
    if who.role == "operator":
        return table.loc[table["operator"] == who.operator]
    return table.iloc[0:0]


def check_sites(who: Principal, operator: str | None = None) -> None:
    """Raise unless the principal may read the site list of ``operator`` (None: every operator)."""
    if who.sees_everything:
        return
    if who.role == "operator" and operator == who.operator:
        return
    what = f"the sites of {operator}" if operator else "every operator's sites"
    raise AccessDenied(f"{who.describe()} may not read {what}")


def _raw_columns(columns: pd.Index, who: Principal) -> list[str]:
    """Columns of other operators' per-operator layers (``cov__4G__Viettel``...), to withhold."""
    out = []
    for col in columns:
        parts = str(col).split("__")
        if len(parts) == 3 and parts[0] in ("cov", "hh_cov", "hh_pct", "vil_pct", "reach", "passed"):
            if not may_see_layer(who, f"{parts[1]}__{parts[2]}"):
                out.append(col)
    return out


def own_mask(who: Principal, table: pd.DataFrame) -> pd.Series:
    """Rows (villages or communes) of the principal's own province, by the column of its scheme."""
    col = f"province_{who.scheme}" if f"province_{who.scheme}" in table else "parent_code"
    return table[col].astype(str) == str(who.province)


def villages(who: Principal, table: pd.DataFrame) -> pd.DataFrame:
    """Village rows and columns the principal may see.

    A province sees its own villages only (elsewhere it has the aggregate figures); an operator
    sees every village (gap layers are for everyone) without other operators' layer columns.
    """
    if who.sees_everything:
        return table
    if who.role == "province":
        return table.loc[own_mask(who, table)]
    return table.drop(columns=_raw_columns(table.columns, who))


def units(who: Principal, table: pd.DataFrame) -> pd.DataFrame:
    """Unit figures (communes or provinces): everything is aggregate, but an operator does not
    see other operators' per-operator columns."""
    if who.role == "operator":
        return table.drop(columns=_raw_columns(table.columns, who))
    return table


def check_province_detail(who: Principal, province: str, scheme: str) -> None:
    """Raise unless the principal may open the village-level detail of a province."""
    if who.sees_everything or who.role == "operator":
        return
    if scheme == who.scheme and province == who.province:
        return
    raise AccessDenied(f"{who.describe()} sees village detail for its own province only "
                       f"({who.province}, {who.scheme} scheme), not {province} ({scheme} scheme)")


def check_challenge(who: Principal, *, province: str | None, scheme: str, operator: str) -> None:
    """Raise unless the principal may file a challenge about this unit and network."""
    if who.sees_everything:
        return
    if who.role == "province":
        if province is None or scheme != who.scheme or province != who.province:
            raise AccessDenied(f"{who.describe()} files challenges about its own province's units only")
        return
    if operator != who.operator:
        raise AccessDenied(f"{who.describe()} files challenges about its own network ({who.operator}) only, "
                           f"not {operator!r}")


def check_decide(who: Principal) -> None:
    """Only the ministry (or the local single user) decides challenges."""
    if not who.sees_everything:
        raise AccessDenied(f"{who.describe()} may not decide challenges: the ministry reviews them")
