"""Session state: the reader's choices, kept consistent across reruns, and navigation.

Widgets own their keys in ``st.session_state``; a widget's value can only be changed before
the widget is drawn in a run. So choices that depend on each other (a target needs its
indicator, an operator needs a technology it has) are repaired here at the top of the script,
and a map click that opens a province is queued (:func:`navigate`) and applied on the next run
by :func:`apply_navigation`.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from app import metrics
from app.data import StoreRef
from app.i18n import DEFAULT_LANG, LANGS, tr
from coverage.access import LOCAL, Principal

VIEWS = ("national", "province", "operator", "progress", "challenges", "data")
SCHEMES = ("63", "34")
_NAV = "_nav"


@dataclass(frozen=True)
class Ctx:
    """What every page needs: the store, its manifest, the language and the selection."""

    key: StoreRef
    manifest: dict
    lang: str
    selection: metrics.Selection
    who: Principal = LOCAL

    def t(self, text_key: str, **values: object) -> str:
        """The text of a key in the reader's language."""
        return tr(text_key, self.lang, **values)

    @property
    def target(self) -> dict:
        return next(t for t in self.manifest["targets"] if t["id"] == self.selection.target_id)


def navigate(**values: str) -> None:
    """Queue widget values (e.g. view and province after a map click) and rerun now."""
    st.session_state[_NAV] = values
    st.rerun()


def apply_navigation() -> None:
    """Apply queued values before any widget is drawn (see :func:`navigate`)."""
    for key, value in st.session_state.pop(_NAV, {}).items():
        st.session_state[key] = value


PERSISTENT = ("lang", "view", "scheme", "indicator", "target", "tech", "op", "province", "show_covered",
              "show_sites", "op_provinces", "op_tech", "op_operator", "op_layer", "op_format",
              "ch_name", "ch_org", "pg_series", "pg_area", "pg_tech", "pg_op", "pg_target", "pg_from", "pg_to",
              "data_kind")


def persist() -> None:
    """Keep choices whose widget is not on the current page (Streamlit drops a widget's state
    in a run that does not draw it): re-assigning makes them plain session values."""
    for key in PERSISTENT:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def init_language() -> str:
    """The reader's language (Vietnamese until they switch)."""
    if st.session_state.get("lang") not in LANGS:
        st.session_state["lang"] = DEFAULT_LANG
    return st.session_state["lang"]


def repair(manifest: dict, province_options: dict[str, list[str]], crosswalk: dict[str, dict[str, str]]) -> None:
    """Make the stored choices valid for this store before widgets are drawn.

    ``province_options`` lists province codes per scheme; ``crosswalk`` maps a province code of
    one scheme to its counterpart in the other, so switching schemes keeps the province open.
    """
    ss = st.session_state
    if ss.get("view") not in VIEWS:
        ss["view"] = VIEWS[0]
    if ss.get("scheme") not in SCHEMES:
        ss["scheme"] = SCHEMES[0]
    indicators = metrics.indicators_available(manifest)
    if ss.get("indicator") not in indicators:
        ss["indicator"] = indicators[0]
    targets = [t["id"] for t in metrics.targets_for(manifest, ss["indicator"])]
    if ss.get("target") not in targets:
        ss["target"] = targets[0]
        ss["tech"] = _default_tech(manifest, ss["indicator"], ss["target"])
    if ss.get("tech") not in metrics.technologies_for(manifest, ss["indicator"]):
        ss["tech"] = _default_tech(manifest, ss["indicator"], ss["target"])
    if ss.get("op") not in metrics.operators_for(manifest, ss["tech"]):
        ss["op"] = metrics.ALL
    options = province_options[ss["scheme"]]
    current = ss.get("province")
    if current not in options:
        other = "34" if ss["scheme"] == "63" else "63"
        mapped = crosswalk.get(other, {}).get(current) if current else None
        ss["province"] = mapped if mapped in options else options[0]
    for key, value in (("show_covered", False), ("show_sites", False)):
        ss.setdefault(key, value)


def _default_tech(manifest: dict, indicator: str, target_id: str) -> str:
    target = next(t for t in manifest["targets"] if t["id"] == target_id)
    tech = metrics.target_technology(target)
    allowed = metrics.technologies_for(manifest, indicator)
    return tech if tech in allowed else allowed[0]


def on_indicator_change(manifest: dict) -> None:
    """A new indicator starts on its first target, measured on that target's networks."""
    ss = st.session_state
    ss["target"] = metrics.targets_for(manifest, ss["indicator"])[0]["id"]
    ss["tech"] = _default_tech(manifest, ss["indicator"], ss["target"])
    ss["op"] = metrics.ALL


def on_target_change(manifest: dict) -> None:
    """A new target is measured on the networks it counts, all operators."""
    ss = st.session_state
    ss["tech"] = _default_tech(manifest, ss["indicator"], ss["target"])
    ss["op"] = metrics.ALL


def selection() -> metrics.Selection:
    """The current choices as a :class:`metrics.Selection`."""
    ss = st.session_state
    return metrics.Selection(scheme=ss["scheme"], indicator=ss["indicator"], target_id=ss["target"],
                             technology=ss["tech"], operator=ss["op"])


def new_click(map_key: str, click: dict | None) -> dict | None:
    """The click a map reports, if it is one not handled yet (the component repeats its last value)."""
    if not click:
        return None
    seen = f"_handled_click:{map_key}"
    point = (round(float(click["lat"]), 6), round(float(click["lng"]), 6))
    if st.session_state.get(seen) == point:
        return None
    st.session_state[seen] = point
    return click
