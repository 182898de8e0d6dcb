"""The data page with Streamlit's AppTest: upload, the validation report as a table, and an
import that rebuilds the results in the background while the old ones stay in use.

The app runs on a private copy of the demo (scenario and store), so the import does not change
the demo results the other tests read.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app import data as app_data
from app import fmt, i18n, jobs
from coverage import imports, store
from geodata.settings import cache_dir
from tests._files import tree

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def private_demo(demo_store: Path, tmp_path_factory: pytest.TempPathFactory):
    """A copy of the session's cache (demo scenario, demo store, built layers) as the cache."""
    source = cache_dir()
    copy = tmp_path_factory.mktemp("data-page") / "cache"
    shutil.copytree(source, copy, symlinks=True, ignore=shutil.ignore_patterns("uploads"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VNBB_CACHE_DIR", str(copy))
        # imports register snapshots: keep them out of the session's database and state folder
        mp.setenv("VNBB_STATE_DIR", str(copy.parent / "state"))
        mp.delenv("VNBB_DB_URL", raising=False)
        mp.delenv(app_data.STORE_ENV, raising=False)
        yield copy


def _open(lang: str = "en") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, [e.message for e in at.exception]
    if lang == "en":
        at.sidebar.radio(key="lang").set_value("en").run()
    at.sidebar.radio(key="view").set_value("data").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _sites_csv(scenario: Path) -> pd.DataFrame:
    return pd.read_csv(scenario / "sites.csv", dtype=str)


def _wait(at: AppTest, scenario: Path, timeout: float = 240) -> jobs.ImportJob:
    """Rerun the page while the import runs, as its one-second refresh does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = jobs.latest(scenario)
        if job is not None and not job.running:
            at.run()
            return job
        time.sleep(0.5)
        at.run()
    raise AssertionError("the import did not finish")


def test_page_shows_the_scenario_the_synthetic_label_and_the_figures(private_demo: Path) -> None:
    at = _open()
    assert at.subheader[0].value == i18n.tr("data.heading", "en")
    assert any("SYNTHETIC" in w.value and "Files you import" in w.value for w in at.warning)
    scenario = app_data.demo_scenario_dir()
    captions = " ".join(c.value for c in at.caption)
    assert str(scenario) in captions and "no imports yet" in captions
    national = jobs.figures(app_data.demo_store_dir())
    households = next(m for m in at.metric if m.label == i18n.tr("metric.households", "en"))
    assert households.value == fmt.percent(national["households_pct"], "en", 2)
    uploader = at.get("file_uploader")[0]
    assert "2,048 MB" in uploader.label or f"{app_data.upload_limit_mb():,} MB" in uploader.label
    assert set(uploader.allowed_type) >= {".csv", ".xlsx"}
    # every kind a scenario takes is offered, and a coverage layer asks for its fields
    assert list(at.selectbox(key="data_kind").options) == [i18n.tr(f"data.kind.{k}", "en")
                                                            for k in imports.IMPORT_KINDS]
    at.selectbox(key="data_kind").set_value("coverage-raster").run()
    assert at.number_input(key="data_threshold").value == -110.0
    assert at.get("file_uploader")[0].allowed_type == [".tif", ".tiff"]


def test_bad_upload_shows_row_and_field_and_changes_nothing(private_demo: Path) -> None:
    scenario, store_dir = app_data.demo_scenario_dir(), app_data.demo_store_dir()
    before = tree(private_demo / "app")
    sites = _sites_csv(scenario).head(5)
    sites.loc[1, "radius_m"] = "-300"
    sites.loc[3, "operator"] = "Mobiphone Plus"
    at = _open()
    at.selectbox(key="data_kind").set_value("sites").run()
    at.get("file_uploader")[0].set_value(("tram_loi.csv", sites.to_csv(index=False).encode(), "text/csv")).run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("tram_loi.csv: refused. tram_loi.csv: has 2 problem(s)" in e.value for e in at.error)
    assert not any("uploads" in e.value for e in at.error)  # the temporary copy's path is not shown
    table = at.table[0].value.reset_index()
    rows = {(r["Row/feature"], r["Field"]) for _, r in table.iterrows()}
    assert ("row 3", "radius_m") in rows and ("row 5", "operator") in rows
    assert set(table["File"]) == {"tram_loi.csv"}
    assert not [b for b in at.button if b.key == "data_import"]  # nothing to import
    assert tree(private_demo / "app") == before
    assert store.read_manifest(store_dir)["built_at"] == jobs.figures(store_dir)["built_at"]


def test_good_upload_imports_and_rebuilds_in_the_background(private_demo: Path) -> None:
    scenario, store_dir = app_data.demo_scenario_dir(), app_data.demo_store_dir()
    old = jobs.figures(store_dir)
    old_store = store_dir.resolve()
    sites = _sites_csv(scenario)
    fewer = sites.iloc[: len(sites) // 3]  # two thirds of the sites gone: coverage must drop
    at = _open()
    at.selectbox(key="data_kind").set_value("sites").run()
    at.get("file_uploader")[0].set_value(("sites_2025.csv", fewer.to_csv(index=False).encode(), "text/csv")).run()
    assert any(f"sites_2025.csv: valid ({len(fewer):,} rows/items)" in s.value for s in at.success)
    at.text_input(key="data_citation_sites").set_value("test upload").run()
    at.button(key="data_import").click().run()
    job = jobs.latest(scenario)
    assert job is not None and job.name == "sites_2025.csv"
    if store_dir.resolve() == old_store:  # not swapped yet: the page shows the steps and the old results
        assert at.status[0].label == "Importing sites_2025.csv and rebuilding the results…"
        households = next(m for m in at.metric if m.label == i18n.tr("metric.households", "en"))
        assert households.value == fmt.percent(old["households_pct"], "en", 2)
    job = _wait(at, scenario)
    assert job.state == "done", (job.state, job.error, job.result and job.result.report.text())
    assert not at.exception, [e.message for e in at.exception]
    assert any("Imported sites_2025.csv" in s.value and "version 2" in s.value for s in at.success)
    new = jobs.figures(store_dir)
    assert new["built_at"] != old["built_at"] and store_dir.resolve() != old_store
    assert new["households_pct"] < old["households_pct"]
    households = next(m for m in at.metric if m.label == i18n.tr("metric.households", "en"))
    assert households.value == fmt.percent(new["households_pct"], "en", 2)
    assert households.delta == fmt.points(new["households_pct"] - old["households_pct"], "en", 2).replace("−", "-")
    assert households.delta.startswith("-")  # shown as a fall (red, arrow down)
    # the scenario has its versions; the demo stays labelled synthetic
    assert [v.number for v in imports.versions(scenario)] == [1, 2]
    manifest = store.read_manifest(store_dir)
    assert manifest["scenario"]["synthetic"] is True
    assert {"file": "sites.csv", "provenance": "modelled", "citation": "test upload"} in manifest["scenario"]["sources"]
    assert any("SYNTHETIC" in w.value for w in at.warning)
    assert at.expander[-1].label.startswith("Versions of the scenario (2)")
    # the other pages show the new results (their cache keys carry the build time)
    at.sidebar.radio(key="view").set_value("national").run()
    assert not at.exception
    national = next(m for m in at.metric if m.label == i18n.tr("metric.households", "en"))
    hh = store.read_table(store_dir, "province", "63")
    assert national.value == fmt.percent(100 * hh["hh_cov__any__all"].sum() / hh["households"].sum(), "en")


def test_import_refused_by_the_whole_scenario_check_is_reported(private_demo: Path) -> None:
    scenario = app_data.demo_scenario_dir()
    households = pd.read_csv(scenario / "households.csv", dtype=str)
    households["households"] = "1"
    households["households_urban"] = "1"
    households["households_rural"] = "0"
    before = tree(private_demo / "app")
    at = _open()
    at.selectbox(key="data_kind").set_value("households").run()
    at.get("file_uploader")[0].set_value(("hh.csv", households.to_csv(index=False).encode(), "text/csv")).run()
    assert any("hh.csv: valid" in s.value for s in at.success)  # fine alone ...
    at.button(key="data_import").click().run()
    job = _wait(at, scenario)
    assert job.state == "refused"  # ... but the villages hold more households than that
    assert any("refused when the whole scenario was checked" in e.value for e in at.error)
    table = at.table[0].value.reset_index()
    assert table["Field"].eq("households").any() and table["Row/feature"].str.startswith("row").any()
    assert tree(private_demo / "app") == before


def test_every_text_of_the_page_is_translated() -> None:
    """Keys the page looks up (literal or per kind) exist in both languages."""
    import re

    from coverage.scenario import PROVENANCE

    source = (Path(__file__).resolve().parents[1] / "app/views/data.py").read_text(encoding="utf-8")
    keys = set(re.findall(r"ctx\.t\(\s*\"([\w.\-]+)\"", source))
    keys |= {f"data.kind.{k}" for k in imports.IMPORT_KINDS} | {f"provenance.{p}" for p in PROVENANCE}
    keys |= {f"data.col.{c}" for c in ("file", "where", "field", "message")}
    assert len(keys) > 40
    missing = sorted(k for k in keys if k not in i18n.TEXTS)
    assert not missing, missing


def test_demo_with_imports_is_rebuilt_not_rewritten(private_demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the app must rebuild its demo store (e.g. a new reference data folder), a demo
    scenario with imported versions is built as it is, never replaced by a fresh demo."""
    scenario = app_data.demo_scenario_dir()
    if not imports.is_versioned(scenario):
        sites = _sites_csv(scenario).head(50)
        path = private_demo.parent / "few_sites.csv"
        sites.to_csv(path, index=False)
        assert imports.import_file(scenario, path, "sites").ok
    kept = (scenario / "sites.csv").read_bytes()
    versions = [v.number for v in imports.versions(scenario)]
    monkeypatch.setattr(app_data, "ready_store", lambda: None)
    from coverage import demo

    monkeypatch.setattr(demo, "write_demo", lambda *a, **k: pytest.fail("the demo was rewritten"))
    steps: list[str] = []
    path = app_data.build_demo_store(progress=steps.append)
    assert (scenario / "sites.csv").read_bytes() == kept and [v.number for v in imports.versions(scenario)] == versions
    assert store.read_manifest(path)["scenario"]["folder"] == str(scenario.resolve()) and steps
