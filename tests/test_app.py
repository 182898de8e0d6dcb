"""Page logic with Streamlit's AppTest: switches, filters, a chosen province, downloads.

Every figure checked here is recomputed from the store's tables, so the pages are tested
against the data, not against numbers copied into the test.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from streamlit.testing.v1 import AppTest

from app import data as app_data
from app import fmt, i18n, maps, metrics
from coverage import store

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
pytestmark = pytest.mark.slow


@pytest.fixture()
def app(demo_store: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The app on the demo store, found in the cache as after a first start."""
    monkeypatch.delenv(app_data.STORE_ENV, raising=False)
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _national(demo_store: Path, scheme: str, layer: str) -> tuple[float, float, float, float]:
    t = store.read_table(demo_store, "province", scheme)
    return t[f"hh_cov__{layer}"].sum(), t["households"].sum(), t[f"cov__{layer}"].sum(), t["villages"].sum()


def test_opens_in_vietnamese_on_the_demo_with_figures_from_the_store(app: AppTest, demo_store: Path) -> None:
    at = app
    assert at.title[0].value == i18n.tr("app.title", "vi")
    assert any("tổng hợp" in w.value for w in at.warning)  # synthetic data banner
    hh_cov, hh, vil_cov, vil = _national(demo_store, "63", "any__all")
    assert _metric(at, "Hộ được phủ") == fmt.percent(100 * hh_cov / hh, "vi")
    assert _metric(at, "Thôn/bản được phủ") == fmt.percent(100 * vil_cov / vil, "vi")
    assert re.fullmatch(r"\d{1,3}(,\d)? %", _metric(at, "Hộ được phủ"))  # 99,7 %
    assert f"{fmt.number(hh_cov, 'vi')} / {fmt.number(hh, 'vi')}" in [c.value for c in at.caption]
    table = store.read_table(demo_store, "province", "63")
    assert _metric(at, "Tỉnh/thành đạt mục tiêu") == f"{int(table['2289-households-2025__met'].sum())} / 63"
    # sources on the page: every input file and the official boundary attribution
    sources = " ".join(c.value for c in at.caption)
    for src in store.read_manifest(demo_store)["scenario"]["sources"]:
        assert src["file"] in sources
    assert "Open Development Vietnam" in sources


def test_national_table_is_made_when_its_expander_opens(app: AppTest, demo_store: Path,
                                                       downloads: dict[str, bytes]) -> None:
    """The provinces table (a data grid, about 1.5 MB of scripts in the browser) and its files are
    made only once the reader opens its expander; the small smart-city table is plain Markdown."""
    from app import layout

    at = app
    if layout._EXPANDER_TRACKS_STATE:
        assert not at.dataframe and not downloads
    smart = next(m.value for m in at.markdown if m.value.startswith(f"| {i18n.tr('smart.region', 'vi')} |"))
    assert len(smart.splitlines()) >= 3  # header, rule, one row per region
    at.session_state["provinces_table"] = True
    at = at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 63
    xlsx = next(data for name, data in downloads.items() if name.startswith("provinces_63_") and name.endswith(".xlsx"))
    assert len(pd.read_excel(io.BytesIO(xlsx))) == 63


def test_language_switch_changes_labels_and_number_format(app: AppTest, demo_store: Path) -> None:
    at = app.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == i18n.tr("app.title", "en")
    assert at.sidebar.radio(key="view").label == "Page"
    hh_cov, hh, _, _ = _national(demo_store, "63", "any__all")
    assert _metric(at, "Households covered") == fmt.percent(100 * hh_cov / hh, "en")
    assert f"{fmt.number(hh_cov, 'en')} of {fmt.number(hh, 'en')}" in [c.value for c in at.caption]
    assert any("Synthetic demo data" in w.value for w in at.warning)


def test_scheme_indicator_technology_and_operator_filters(app: AppTest, demo_store: Path) -> None:
    at = app.sidebar.radio(key="scheme").set_value("34").run()
    assert at.subheader[0].value == i18n.tr("national.heading", "vi", n=34)
    assert _metric(at, "Tỉnh/thành đạt mục tiêu").endswith("/ 34")

    at = at.sidebar.selectbox(key="indicator").set_value("villages").run()
    assert at.sidebar.selectbox(key="target").value == "2289-villages-2025"
    t34 = store.read_table(demo_store, "province", "34")
    gap = int(metrics.needed(np.array([t34["villages"].sum()]), 100, ">=")[0] - t34["cov__any__all"].sum())
    assert _metric(at, "Số thôn/bản còn thiếu để đạt mục tiêu") == fmt.number(gap, "vi")

    at = at.sidebar.selectbox(key="tech").set_value("4G").run()
    assert at.sidebar.selectbox(key="op").options  # operators with a 4G layer
    at = at.sidebar.selectbox(key="op").set_value("Viettel").run()
    assert not at.exception
    _, _, cov, vil = _national(demo_store, "34", "4G__Viettel")
    assert _metric(at, "Thôn/bản được phủ") == fmt.percent(100 * cov / vil, "vi")

    at = at.sidebar.selectbox(key="indicator").set_value("households_5g").run()
    assert at.sidebar.selectbox(key="tech").value == "5G"
    assert at.sidebar.selectbox(key="op").value == "all"
    hh_cov, hh, _, _ = _national(demo_store, "34", "5G__all")
    assert _metric(at, "Hộ được phủ") == fmt.percent(100 * hh_cov / hh, "vi")


def test_a_chosen_province_shows_its_gaps_rank_communes_and_villages(app: AppTest, demo_store: Path,
                                                                      downloads: dict[str, bytes]) -> None:
    villages = gpd.read_parquet(demo_store / "villages.parquet")
    # the province with most villages not covered: its page has a list to download
    code = villages.loc[~villages["cov__any__all"]].groupby("province_63").size().idxmax()
    at = app.sidebar.radio(key="view").set_value("province").run()
    at = at.sidebar.selectbox(key="province").set_value(code).run()
    assert not at.exception
    table = store.read_table(demo_store, "province", "63").set_index("code")
    assert at.subheader[0].value == table.loc[code, "name"]
    assert any("gần đúng" in i.value for i in at.info)  # communes are approximate
    ranks = (100 * table["hh_cov__any__all"] / table["households"]).rank(ascending=False, method="min")
    assert _metric(at, "Xếp hạng (Hộ gia đình được phủ (%))") == f"{int(ranks[code])} / 63"

    gaps, communes, uncovered = (d.value for d in at.dataframe[:3])
    targets = [t for t in store.read_manifest(demo_store)["targets"] if t["indicator"] in ("households", "villages")]
    assert len(gaps) == len(targets)
    villages_target = next(t for t in targets if t["id"] == "2289-villages-2025")
    row = gaps.set_index(i18n.tr("col.target", "vi")).loc[i18n.target_title(villages_target, "vi")]
    expected_gap = table.loc[code, "2289-villages-2025__gap_villages"]
    assert row[i18n.tr("col.gap_villages", "vi")] == fmt.number(expected_gap, "vi")
    c63 = store.read_table(demo_store, "commune", "63")
    assert len(communes) == (c63["parent_code"] == code).sum()
    expected = villages[(villages["province_63"] == code) & ~villages["cov__any__all"]]
    assert len(uncovered) == len(expected) > 0
    assert list(uncovered["Số hộ"]) == sorted(uncovered["Số hộ"], reverse=True)

    names = [name for name in downloads if code in name]
    assert any(n.startswith("uncovered_villages_63_") and n.endswith(".csv") for n in names)
    csv = next(downloads[n] for n in names if n.startswith("uncovered_villages_") and n.endswith(".csv"))
    assert csv.startswith("\ufeff".encode())  # BOM: Excel shows the Vietnamese letters
    assert len(pd.read_csv(io.BytesIO(csv))) == len(expected)
    xlsx = next(downloads[n] for n in names if n.startswith("communes_") and n.endswith(".xlsx"))
    assert len(pd.read_excel(io.BytesIO(xlsx))) == len(communes)

    # optional layers: covered villages and (when the store has them) sites
    at = at.checkbox(key="show_covered").check().run()
    assert not at.exception
    if (demo_store / "sites.parquet").is_file():
        at = at.checkbox(key="show_sites").check().run()
        assert not at.exception


def test_clicked_province_opens_its_page_and_scheme_switch_keeps_it(app: AppTest, demo_store: Path) -> None:
    app.session_state["_nav"] = {"view": "province", "province": "02"}  # what a map click queues
    at = app.run()
    assert at.sidebar.radio(key="view").value == "province"
    assert at.sidebar.selectbox(key="province").value == "02"
    at = at.sidebar.radio(key="scheme").set_value("34").run()
    # Hà Giang (02) merged into Tuyên Quang (08 in the 34 scheme)
    v = gpd.read_parquet(demo_store / "villages.parquet")
    expected = v[v["province_63"] == "02"].groupby("province_34")["households"].sum().idxmax()
    assert at.sidebar.selectbox(key="province").value == expected
    # the province survives a visit to another page
    at = at.sidebar.radio(key="view").set_value("national").run()
    at = at.sidebar.radio(key="view").set_value("province").run()
    assert at.sidebar.selectbox(key="province").value == expected


def test_every_province_is_found_where_it_is_clicked(demo_store: Path) -> None:
    key = app_data.ref(demo_store)
    for scheme in ("63", "34"):
        table = store.read_table(demo_store, "province", scheme)
        for code, point in zip(table["code"], table.geometry.representative_point()):
            assert app_data.locate(key, scheme, point.y, point.x) == code
    assert app_data.locate(key, "63", 0.0, 0.0) is None  # the open sea far away


def test_operator_view_downloads_the_export_formats(app: AppTest, demo_store: Path,
                                                    downloads: dict[str, bytes]) -> None:
    from coverage import export

    villages = gpd.read_parquet(demo_store / "villages.parquet")
    code = villages.loc[~villages["cov__4G__Viettel"]].groupby("province_63").size().idxmax()
    at = app.sidebar.radio(key="view").set_value("operator").run()
    at = at.multiselect(key="op_provinces").set_value([code]).run()
    at = at.selectbox(key="op_tech").set_value("4G").run()
    at = at.selectbox(key="op_operator").set_value("Viettel").run()
    assert not at.exception
    expected = villages[(villages["province_63"] == code) & ~villages["cov__4G__Viettel"]]
    for fmt_name in export.FORMATS:
        at = at.selectbox(key="op_format").set_value(fmt_name).run()
        assert not at.exception
        name = f"vnbb_uncovered-villages_4G_Viettel_63_{code}{export.SUFFIXES[fmt_name]}"
        assert name in downloads, sorted(downloads)
    gpkg = downloads[f"vnbb_uncovered-villages_4G_Viettel_63_{code}.gpkg"]
    layers = pyogrio.list_layers(io.BytesIO(gpkg))
    frame = gpd.read_file(io.BytesIO(gpkg), layer=layers[0][0])
    assert len(frame) == len(expected) and frame.crs.to_epsg() == 4326
    # the coverage layer too (commune polygons)
    at = at.radio(key="op_layer").set_value("coverage").run()
    assert not at.exception


def test_first_start_builds_the_demo_with_a_progress_indicator(demo_store: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """With an empty cache, the first run shows its build steps (the build itself is replaced
    by a copy of the session's demo store, which the fixture built with the real code)."""
    monkeypatch.delenv(app_data.STORE_ENV, raising=False)
    monkeypatch.setenv("VNBB_CACHE_DIR", str(tmp_path / "cache"))

    def fake_build(scenario, out, data_dir=None, progress=None, force=False):  # noqa: ANN001, ANN202
        progress("village coverage")
        shutil.copytree(demo_store, out)
        return Path(out)

    from coverage import demo

    monkeypatch.setattr(demo, "write_demo", lambda out, seed=42, data_dir=None: Path(out))
    monkeypatch.setattr(app_data.store, "build", fake_build)
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert at.status and at.status[0].label == i18n.tr("build.done", "vi")
    assert any("village coverage" in m.value for m in at.status[0].markdown)
    assert (tmp_path / "cache" / "app" / "demo-store" / "manifest.json").is_file()


def test_a_configured_store_that_is_not_one_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(app_data.STORE_ENV, str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert at.error and "manifest.json" in at.error[0].value


def test_maps_load_leaflet_from_the_app_not_from_a_cdn(demo_store: Path) -> None:
    """streamlit-folium loads every element's default_js/default_css: all must be local."""
    import branca
    import folium

    fig = maps.base_map(maps.VIETNAM_BOUNDS, view_key="test", attribution="x")
    group = maps.choropleth({"type": "FeatureCollection", "features": []}, ["n"], ["n"], name="g")
    links: list[str] = []

    def walk(element: branca.element.Element) -> None:
        if isinstance(element, folium.elements.JSCSSMixin):
            links.extend(url for _, url in element.default_js + element.default_css)
        for child in element._children.values():
            walk(child)

    walk(fig)
    walk(group)
    assert links and all(url.startswith(maps.ASSET_URL) for url in links), links
    for url in links:
        assert (Path(maps._xleaflet.BASE_DIR) / url.removeprefix(maps.ASSET_URL)).is_file()


def test_map_layers_are_written_as_compact_geojson_text() -> None:
    """The pages cache GeoJSON as text (quick to hand over between reruns) that the map layer
    pastes as is: valid JSON, coordinates rounded, ids and properties kept, nothing that could
    close a script tag."""
    import json

    import shapely

    shapes = gpd.GeoDataFrame({"code": ["01", "02"]}, geometry=[
        shapely.box(105.12345678, 21.0, 105.5, 21.98765432), shapely.Point(106.0000049, 20.5)], crs=4326)
    props = pd.DataFrame({"code": ["02", "01"], "n": ["Hà Giang", "a </script> b"], "o": np.array([3, 4])})
    text = maps.feature_collection(shapes, props, digits=3)
    assert "</" not in text and ", " not in text
    data = json.loads(text)
    assert maps.feature_count(text) == 2
    first = data["features"][0]
    assert first["id"] == "01" and first["properties"] == {"code": "01", "n": "a </script> b", "o": 4}
    assert [105.123, 21.0] in first["geometry"]["coordinates"][0]
    assert data["features"][1]["geometry"] == {"type": "Point", "coordinates": [106.0, 20.5]}
    points = json.loads(maps.point_collection(["v1"], [105.123456789], [21.5], pd.DataFrame({"h": ["1.234"]})))
    assert points["features"][0] == {"type": "Feature", "id": "v1", "properties": {"h": "1.234"},
                                     "geometry": {"type": "Point", "coordinates": [105.12346, 21.5]}}


def test_ranking_lists_every_province_best_first_with_its_colour_and_the_target(demo_store: Path) -> None:
    from app.views import national

    manifest = store.read_manifest(demo_store)
    target = metrics.targets_for(manifest, "villages")[0]
    table = store.read_table(demo_store, "province", "63").drop(columns="geometry")
    sel = metrics.Selection("63", "villages", target["id"], metrics.target_technology(target))
    measured = metrics.measure(table, sel, target)
    html = national.ranking_html(measured, float(target["threshold"]), "vi")
    bars = re.findall(r'<div class="vnbb-bar" title="([^"]*)"><span>[^<]*</span><b><i style="width:([\d.]+)%;'
                      r'background:(#[0-9a-f]{6})">', html)
    assert len(bars) == 63
    expected = measured.sort_values("value", ascending=False, kind="stable")
    assert [b[0] for b in bars] == [f"{fmt.short_name(n)}: {fmt.percent(v, 'vi')}"
                                   for n, v in zip(expected["name"], expected["value"])]
    assert [b[2] for b in bars] == list(expected["colour"])
    widths = [float(b[1]) for b in bars]
    assert widths == sorted(widths, reverse=True) and max(widths) <= 100
    assert f'title="{i18n.tr("ranking.target", "vi")}: {fmt.percent(target["threshold"], "vi", 0)}"' in html
    odd = measured.assign(name=["Tỉnh <b>&"] + list(measured["name"][1:]))
    assert "<b>&" not in national.ranking_html(odd, 80.0, "en")


def test_translations_are_complete() -> None:
    fields = re.compile(r"\{(\w+)")
    for key, (vi, en) in i18n.TEXTS.items():
        assert vi and en, key
        assert set(fields.findall(vi)) == set(fields.findall(en)), key


def test_numbers_follow_the_language() -> None:
    assert fmt.number(1234567.8, "vi", 1) == "1.234.567,8"
    assert fmt.number(1234567.8, "en", 1) == "1,234,567.8"
    assert fmt.percent(82.46, "vi") == "82,5 %" and fmt.percent(82.46, "en") == "82.5%"
    assert fmt.number(-0.01, "vi", 1) == "0,0"
    assert fmt.points(-3.21, "en") == "−3.2 pp" and fmt.points(2.0, "vi") == "+2,0 đ.p."
    assert fmt.number(float("nan"), "vi") == "–"


def test_measure_agrees_with_the_engine_gaps(demo_store: Path) -> None:
    manifest = store.read_manifest(demo_store)
    for scheme in ("63", "34"):
        table = store.read_table(demo_store, "province", scheme)
        for t in manifest["targets"]:
            if t["indicator"] not in ("households", "villages"):
                continue
            indicator = "villages" if t["indicator"] == "villages" else (
                "households_5g" if metrics.target_technology(t) == "5G" else "households")
            sel = metrics.Selection(scheme, indicator, t["id"], metrics.target_technology(t))
            m = metrics.measure(table.drop(columns="geometry"), sel, t)
            unit = "villages" if t["indicator"] == "villages" else "households"
            assert (m["gap"].to_numpy() == table[f"{t['id']}__gap_{unit}"].to_numpy()).all(), t["id"]
            assert (m["met"].to_numpy() == table[f"{t['id']}__met"].to_numpy()).all(), t["id"]
            assert m["colour"].isin([c for *_, c in metrics.BELOW + metrics.MET] + [metrics.NO_DATA]).all()
            assert (m.loc[m["met"], "colour"].isin([c for *_, c in metrics.MET])).all()


def test_national_map_payload_stays_small(demo_store: Path) -> None:
    """The national choropleth's GeoJSON (simplified shared borders, rounded coordinates,
    preformatted tooltips): recorded in tests/artifacts/metrics.json, and kept under 300 kB."""
    import json

    from app.views import national

    key = app_data.ref(demo_store)
    manifest = store.read_manifest(demo_store)
    target = metrics.targets_for(manifest, "households")[0]
    sizes = {}
    for scheme in ("63", "34"):
        sel = metrics.Selection(scheme, "households", target["id"], metrics.target_technology(target))
        collection = national._features(key, sel, "vi")
        assert maps.feature_count(collection) == int(scheme)
        sizes[scheme] = len(collection.encode())
        raw = store.read_table(demo_store, "province", scheme)[["code", "geometry"]].to_json().encode()
        sizes[f"{scheme}_unsimplified"] = len(raw)
        assert sizes[scheme] < 300_000
    artifacts = Path(__file__).parent / "artifacts"
    artifacts.mkdir(exist_ok=True)
    path = artifacts / "metrics.json"
    current = json.loads(path.read_text()) if path.is_file() else {}
    current.update({f"national_geojson_bytes_{k}": v for k, v in sizes.items()})
    path.write_text(json.dumps(current, indent=2))


def test_approximate_province_boundaries_are_announced(demo_store: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A store built without the official layer (no data folder) says so on the national page."""
    import json

    copy = tmp_path / "store"
    shutil.copytree(demo_store, copy)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["boundaries"] = {name: "approximate" for name in manifest["boundaries"]}
    manifest["built_at"] = "approximate-copy"  # a different cache key from the demo store
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    monkeypatch.setenv(app_data.STORE_ENV, str(copy))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert any("gần đúng" in i.value and "tỉnh/thành" in i.value for i in at.info)
    assert "vietnamadminunits" in " ".join(c.value for c in at.caption)
