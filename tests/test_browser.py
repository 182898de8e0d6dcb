"""The app in a real browser: Debian's chromium driven by Playwright, with every request that
leaves this machine blocked (as on a ministry laptop with no internet).

Checks that the national map draws the province shapes, that clicking a province opens its
page (also on a laptop-size screen, in one script run), that another province swaps the map's
layers in place, that the language switch changes the labels, and that an operator's GeoPackage
download is readable. Screenshots go to ``tests/artifacts/`` (look at them), with the measured time to
first map paint and the national map's payload in ``tests/artifacts/metrics.json``.

Chromium is installed by ``./dev test`` (apt); never a browser downloaded by a test tool. When it
is missing these tests skip on a developer's machine and fail under CI.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import xstatic.pkg.leaflet as xleaflet

from app.i18n import tr
from coverage import store
from tests._files import tree

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
pytestmark = pytest.mark.slow


def _require_browser() -> None:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (./dev test installs Debian's chromium with apt)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package")
    if missing:
        message = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _streamlit(env: dict[str, str], log: Path) -> Iterator[str]:
    """``streamlit run streamlit_app.py`` on a free port with ``env``; yields its address."""
    _require_browser()
    port = _free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.headless=true",
             f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false",
             "--server.fileWatcherType=none", "--global.developmentMode=false"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def server(demo_store: Path, tmp_path_factory: pytest.TempPathFactory):
    """The app finding the demo store in the cache."""
    env = {k: v for k, v in os.environ.items() if k != "VNBB_STORE"}
    with _streamlit(env, tmp_path_factory.mktemp("streamlit") / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser(server: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Session:
    """One browser tab on the app, with the outside world blocked and traffic counted."""

    def __init__(self, browser, url: str, viewport: dict | None = None) -> None:  # noqa: ANN001
        self.context = browser.new_context(viewport=viewport or {"width": 1440, "height": 2200},
                                           accept_downloads=True)
        self.blocked: list[str] = []
        self.local: list[str] = []
        self.ws_frames: list[int] = []
        self.ws_sent = 0
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("websocket", self._socket)
        self.url = url

    def _route(self, route) -> None:  # noqa: ANN001
        url = route.request.url
        if urlparse(url).hostname in LOCAL_HOSTS:
            self.local.append(url)
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def _socket(self, ws) -> None:  # noqa: ANN001
        ws.on("framereceived", self._frame)
        ws.on("framesent", self._sent)

    def _sent(self, _payload: str | bytes) -> None:
        self.ws_sent += 1

    def _frame(self, payload: str | bytes) -> None:
        self.ws_frames.append(len(payload.encode() if isinstance(payload, str) else payload))

    def map_frame(self, min_paths: int, timeout: float = 60.0):
        """The folium map's frame once it shows ``min_paths`` vector shapes (SVG paths)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in self.page.frames:
                if "st_folium" in frame.url:
                    try:
                        if frame.locator("path.leaflet-interactive").count() >= min_paths:
                            return frame
                    except Exception:  # noqa: BLE001 - the frame may be re-rendering
                        pass
            self.page.wait_for_timeout(100)  # (lets Playwright serve the routed requests)
        raise AssertionError(f"no map with {min_paths} shapes within {timeout} s")

    def layer_counts(self, ready, timeout: float = 60.0) -> list[int]:  # noqa: ANN001
        """[polygons, points] of the map's data layers, once ``ready(counts)`` holds."""
        script = """() => { let polys = 0, points = 0;
            window.map.eachLayer(l => { if (l.feature) { if (l.feature.geometry.type === 'Point') points++;
                                                         else polys++; } });
            return [polys, points]; }"""
        deadline, counts = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            for frame in self.page.frames:
                if "st_folium" in frame.url:
                    try:
                        counts = frame.evaluate(script)
                    except Exception:  # noqa: BLE001 - detached or not drawn yet
                        continue
                    if ready(counts):
                        return counts
            self.page.wait_for_timeout(200)
        raise AssertionError(f"map layers not as expected: {counts}")

    def map_bounds(self) -> tuple[float, float, float, float]:
        """West, south, east, north of what the map shows now."""
        frame = self.map_frame(min_paths=0)
        return tuple(frame.evaluate("() => { const b = window.map.getBounds();"
                                    " return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }"))

    def assert_shows(self, area) -> None:  # noqa: ANN001 - a shapely geometry
        """The map is fitted to ``area``: all of it in view, and not the whole country around it."""
        self.page.wait_for_timeout(800)  # past any zoom animation
        w, s, e, n = self.map_bounds()
        aw, as_, ae, an = area.bounds
        assert w <= aw and s <= as_ and e >= ae and n >= an, ((w, s, e, n), area.bounds)
        assert (n - s) < 3 * (an - as_) + 0.5, ((w, s, e, n), area.bounds)

    def wait_text(self, text: str, timeout: float = 30.0) -> None:
        self.page.get_by_text(text, exact=False).first.wait_for(timeout=timeout * 1000)

    def wait_idle(self) -> None:
        """Until Streamlit has finished the current run (its status widget gone)."""
        self.page.wait_for_timeout(300)
        self.page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=60_000)
        self.page.wait_for_timeout(500)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path))
        return path

    def sidebar_option(self, label: str) -> None:
        self.page.locator('[data-testid="stSidebar"]').get_by_text(label, exact=True).click()
        self.wait_idle()


@pytest.fixture()
def session(browser, server: str):  # noqa: ANN001
    s = Session(browser, server)
    yield s
    s.context.close()


def _record(**values: object) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "metrics.json"
    current = json.loads(path.read_text()) if path.is_file() else {}
    current.update(values)
    path.write_text(json.dumps(current, indent=2))


def test_national_map_draws_the_provinces_offline(session: Session, demo_store: Path) -> None:
    provinces = store.read_table(demo_store, "province", "63")
    start = time.monotonic()
    session.page.goto(session.url)
    frame = session.map_frame(min_paths=len(provinces))
    first_paint = time.monotonic() - start
    bytes_until_paint = sum(session.ws_frames)
    largest_frame = max(session.ws_frames)
    assert frame.locator("path.leaflet-interactive").count() == len(provinces)
    assert frame.evaluate("typeof L !== 'undefined' && L.version") == "1.9.3"
    # Leaflet came from the app itself; nothing but map tiles was asked of the outside world
    assert any(u.endswith("/leaflet.js") for u in session.local)
    assert all(urlparse(u).hostname == "tile.openstreetmap.org" for u in session.blocked), session.blocked[:5]
    # the unreachable basemap gives way to the plain background
    frame.locator(".vnbb-no-basemap").wait_for(state="attached", timeout=10_000)
    assert frame.locator("img.leaflet-tile").count() == 0
    session.wait_idle()
    session.page.wait_for_timeout(1000)
    session.wait_text("Xếp hạng các tỉnh/thành")
    path = session.shot("national_vi.png")
    # a second visitor: the server's caches are warm, the browser's asset cache too
    start = time.monotonic()
    session.page.reload()
    session.map_frame(min_paths=len(provinces))
    warm_paint = time.monotonic() - start
    leaflet = Path(xleaflet.BASE_DIR) / "leaflet.js"
    _record(national_first_map_paint_s=round(first_paint, 2), national_map_paint_warm_s=round(warm_paint, 2),
            national_websocket_bytes_until_paint=bytes_until_paint,
            national_largest_websocket_message_bytes=largest_frame,
            leaflet_js_bytes_served_locally=leaflet.stat().st_size,
            national_screenshot=str(path.relative_to(ROOT)))
    print(f"\nfirst map paint {first_paint:.2f} s (warm {warm_paint:.2f} s); websocket bytes until paint "
          f"{bytes_until_paint}; largest message {largest_frame}")


def test_clicking_a_province_opens_its_page(session: Session, demo_store: Path) -> None:
    villages = pd.read_parquet(demo_store / "villages.parquet", columns=["province_63", "cov__any__all"])
    code = villages.loc[~villages["cov__any__all"], "province_63"].value_counts().idxmax()
    table = store.read_table(demo_store, "province", "63").set_index("code")
    point = table.geometry[code].representative_point()
    session.page.goto(session.url)
    frame = session.map_frame(min_paths=len(table))
    session.wait_idle()
    xy = frame.evaluate("([lat, lng]) => { const p = window.map.latLngToContainerPoint([lat, lng]);"
                        " return [p.x, p.y]; }", [point.y, point.x])
    box = session.page.locator('iframe[title="streamlit_folium.st_folium"]').first.bounding_box()
    session.page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])
    heading = session.page.get_by_role("heading", name=table.loc[code, "name"], exact=True)
    heading.wait_for(timeout=30_000)
    communes = store.read_table(demo_store, "commune", "63")
    n_communes = int((communes["parent_code"] == code).sum())
    session.wait_idle()
    counts = session.layer_counts(lambda c: c[0] == n_communes and c[1] > 0)
    assert counts[0] == n_communes
    assert counts[1] == int((~villages["cov__any__all"] & (villages["province_63"] == code)).sum()) > 0
    assert session.map_frame(min_paths=0).locator("canvas").count() >= 1  # villages: drawn on a canvas
    session.assert_shows(table.geometry[code])
    session.page.wait_for_timeout(1000)
    session.shot("province_vi.png")
    # covered villages and sites are optional layers on the same map
    uncovered = counts[1]
    session.page.get_by_text("Hiện cả thôn/bản đã được phủ", exact=True).click()
    session.wait_idle()
    covered = int((villages["cov__any__all"] & (villages["province_63"] == code)).sum())
    counts = session.layer_counts(lambda c: c[1] == uncovered + covered)
    if (demo_store / "sites.parquet").is_file():
        sites = pd.read_parquet(demo_store / "sites.parquet", columns=["province_63"])
        n_sites = int((sites["province_63"] == code).sum())
        session.page.get_by_text("Hiện trạm phát sóng", exact=True).click()
        session.wait_idle()
        session.layer_counts(lambda c: c[1] == uncovered + covered + n_sites)
    session.page.wait_for_timeout(1000)
    session.shot("province_vi_all_layers.png")


def test_language_switch_changes_the_labels(session: Session) -> None:
    session.page.goto(session.url)
    session.map_frame(min_paths=30)
    session.wait_idle()
    assert session.page.get_by_text("Hộ được phủ", exact=True).count() >= 1
    session.sidebar_option("English")
    session.wait_text("Households covered")
    assert session.page.get_by_text("Hộ được phủ", exact=True).count() == 0
    sidebar = session.page.locator('[data-testid="stSidebar"]')
    assert sidebar.get_by_text("Page", exact=True).count() == 1
    assert sidebar.get_by_text("Trang", exact=True).count() == 0
    session.map_frame(min_paths=30)
    session.page.wait_for_timeout(1000)
    session.shot("national_en.png")


def test_panning_does_not_rerun_and_a_filter_keeps_the_map(session: Session, demo_store: Path) -> None:
    """Only a click on a province comes back to Python; a new indicator swaps the layer in
    place (same map, same view) instead of rebuilding the map."""
    session.page.goto(session.url)
    frame = session.map_frame(min_paths=30)
    session.wait_idle()
    frame.evaluate("() => { window.__kept = true; }")
    box = session.page.locator('iframe[title="streamlit_folium.st_folium"]').first.bounding_box()
    sent = session.ws_sent
    x, y = box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.15  # open sea, no province
    session.page.mouse.move(x, y)
    session.page.mouse.down()
    session.page.mouse.move(x - 120, y + 60, steps=8)
    session.page.mouse.up()
    frame.evaluate("() => window.map.zoomIn()")
    session.page.wait_for_timeout(1500)
    assert session.ws_sent == sent, "panning or zooming sent something back to the app"
    centre = frame.evaluate("() => [window.map.getCenter().lat, window.map.getCenter().lng, window.map.getZoom()]")

    session.page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    session.page.get_by_role("option", name="Thôn/bản được phủ (%)").click()
    session.wait_idle()
    session.wait_text("Số thôn/bản còn thiếu để đạt mục tiêu")
    session.page.wait_for_timeout(1000)
    frame = session.map_frame(min_paths=30)
    assert frame.evaluate("() => window.__kept === true"), "the map was rebuilt"
    assert frame.evaluate("() => [window.map.getCenter().lat, window.map.getCenter().lng, window.map.getZoom()]") \
        == centre
    table = store.read_table(demo_store, "province", "63")
    below = int((~table["2289-villages-2025__met"]).sum())
    reds = frame.evaluate("""() => Array.from(document.querySelectorAll('path.leaflet-interactive'))
        .filter(p => !['#92c5de', '#4393c3', '#2166ac'].includes(p.getAttribute('fill'))).length""")
    assert reds == below > 0
    session.shot("national_vi_villages.png")


def test_operator_download_is_a_readable_geopackage(session: Session, demo_store: Path,
                                                    tmp_path: Path) -> None:
    villages = pd.read_parquet(demo_store / "villages.parquet", columns=["province_63", "cov__any__all"])
    code = villages.loc[~villages["cov__any__all"], "province_63"].value_counts().idxmax()
    name = store.read_table(demo_store, "province", "63").set_index("code").loc[code, "name"]
    session.page.goto(session.url)
    session.map_frame(min_paths=30)
    session.wait_idle()
    session.sidebar_option("English")
    session.sidebar_option("Operator: gap layers")
    select = session.page.locator('[data-testid="stMultiSelect"]').first
    select.click()
    session.page.keyboard.type(name)
    session.page.keyboard.press("Enter")
    session.page.keyboard.press("Escape")
    session.wait_idle()
    session.map_frame(min_paths=0)
    button = session.page.get_by_role("button", name="Download Uncovered villages (points) (GPKG)")
    button.wait_for(timeout=30_000)
    session.page.wait_for_timeout(1000)
    session.shot("operator_en.png")
    with session.page.expect_download(timeout=60_000) as info:
        button.click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    assert target.suffix == ".gpkg"
    layers = pyogrio.list_layers(target)
    gdf = gpd.read_file(target, layer=layers[0][0])
    expected = int((~villages["cov__any__all"] & (villages["province_63"] == code)).sum())
    assert len(gdf) == expected > 0
    assert gdf.crs.to_epsg() == 4326


def test_progress_page_draws_the_charts_and_the_changes_map(session: Session, demo_history: dict) -> None:
    """The progress page on the demo's synthetic history: both charts drawn (ink on their
    canvases), the synthetic label, and the what-changed map of the provinces."""
    session.page.goto(session.url)
    session.map_frame(min_paths=30)
    session.wait_idle()
    session.sidebar_option("Tiến độ theo thời gian")
    session.wait_text("Tiến độ qua các kỳ số liệu")
    session.wait_text("Chuỗi số liệu minh hoạ (tổng hợp)")
    charts = session.page.locator('[data-testid="stVegaLiteChart"]')
    charts.nth(1).wait_for(timeout=60_000)
    assert charts.count() == 2
    # Vega draws SVG: count the drawn marks (line paths with a shape, rules) of each chart
    marks = """(el) => ({
        lines: Array.from(el.querySelectorAll('g.mark-line path')).filter(p => (p.getAttribute('d') || '').length > 20).length,
        points: el.querySelectorAll('g.mark-symbol path').length,
        rules: el.querySelectorAll('g.mark-rule.role-mark line').length })"""
    deadline = time.monotonic() + 30
    drawn = [charts.nth(i).evaluate(marks) for i in range(2)]
    while time.monotonic() < deadline and min(d["lines"] for d in drawn) < 2:
        session.page.wait_for_timeout(300)
        drawn = [charts.nth(i).evaluate(marks) for i in range(2)]
    n = len(demo_history["snapshots"])
    for d in drawn:  # the observed line with a point per snapshot, the projection, target and deadline rules
        assert d["lines"] >= 2 and d["points"] == n and d["rules"] >= 2, drawn
    frame = session.map_frame(min_paths=63)
    assert frame.locator("path.leaflet-interactive").count() == 63
    session.page.wait_for_timeout(1000)
    path = session.shot("progress_vi.png")
    _record(progress_chart_marks=drawn, progress_screenshot=str(path.relative_to(ROOT)))


# -- data page: upload, report, import and rebuild ------------------------------------------------
@pytest.fixture(scope="module")
def data_server(demo_store: Path, tmp_path_factory: pytest.TempPathFactory):
    """The app on a private copy of the cache (demo scenario and store), so that imports do not
    change the demo results the other tests read; yields (address, cache folder)."""
    import shutil

    from geodata.settings import cache_dir

    copy = tmp_path_factory.mktemp("browser-data") / "cache"
    shutil.copytree(cache_dir(), copy, symlinks=True, ignore=shutil.ignore_patterns("uploads"))
    env = {k: v for k, v in os.environ.items() if k not in ("VNBB_STORE", "VNBB_DB_URL")} | {
        "VNBB_CACHE_DIR": str(copy), "VNBB_STATE_DIR": str(copy.parent / "state")}  # imports register snapshots
    with _streamlit(env, tmp_path_factory.mktemp("streamlit-data") / "server.log") as url:
        yield url, copy


def test_data_page_refuses_a_bad_file_and_imports_a_good_one(browser, data_server, tmp_path: Path) -> None:  # noqa: ANN001
    """Upload a file with bad rows (the report lists row and field; scenario and store stay
    byte-identical), then a good one (imported as version 2, rebuilt while the old results stay
    on screen, and the figures change on every page)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    url, cache = data_server
    app_dir = cache / "app"
    scenario, store_dir = app_dir / "demo-scenario", app_dir / "demo-store"
    session = Session(browser, url)
    page = session.page
    try:
        page.goto(url)
        session.map_frame(min_paths=30)
        session.wait_idle()
        session.sidebar_option("English")
        session.sidebar_option("Data: import files")
        session.wait_text("Import data into the scenario")
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Kind of data").click()
        page.get_by_role("option", name="Mobile sites (sites)").click()
        session.wait_idle()

        # A bad file: the report names row and field; nothing changes on disk.
        before = tree(app_dir)
        sites = pd.read_csv(scenario / "sites.csv", dtype=str)
        bad = sites.head(5).copy()
        bad.loc[1, "radius_m"] = "-300"
        bad.loc[3, "operator"] = "Mobiphone Plus"
        bad_path = tmp_path / "tram_loi.csv"
        bad.to_csv(bad_path, index=False)
        uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        uploader.set_input_files(str(bad_path))
        session.wait_text("tram_loi.csv: refused. tram_loi.csv: has 2 problem(s)", timeout=60)
        session.wait_idle()
        report = page.locator('[data-testid="stTable"]').first.inner_text()
        assert "row 3" in report and "radius_m" in report and "-300 is negative" in report
        assert "row 5" in report and "'Mobiphone Plus' is not one of" in report
        assert page.get_by_role("button", name="Import and rebuild the results").count() == 0
        session.shot("data_refused_en.png")
        assert tree(app_dir) == before

        # A good file: imported, rebuilt in the background, and the figures change.
        old = json.loads((store_dir / "national.json").read_text())["63"]
        old_value = page.locator('[data-testid="stMetricValue"]').first.inner_text()
        good = sites.iloc[: len(sites) // 3]
        good_path = tmp_path / "sites_2025.csv"
        good.to_csv(good_path, index=False)
        uploader.set_input_files(str(good_path))
        session.wait_text("sites_2025.csv: valid", timeout=60)
        session.wait_idle()
        start = time.monotonic()
        page.get_by_role("button", name="Import and rebuild the results").click()
        old_store = store_dir.resolve()
        running = page.get_by_text("Importing sites_2025.csv and rebuilding the results", exact=False).first
        try:
            running.wait_for(timeout=20_000)
        except PlaywrightTimeout:  # it may finish before the page's first refresh
            running = None
        if running is not None:
            page.wait_for_timeout(1000)
            session.shot("data_running_en.png")
            shown = page.locator('[data-testid="stMetricValue"]').first.inner_text()
            if store_dir.resolve() == old_store:  # not swapped yet: the old results are still on screen
                assert shown == old_value
        session.wait_text("Imported sites_2025.csv", timeout=300)
        elapsed = time.monotonic() - start
        session.wait_idle()
        new = json.loads((store_dir / "national.json").read_text())["63"]
        assert new["hh_pct__any__all"] < old["hh_pct__any__all"]
        new_value = page.locator('[data-testid="stMetricValue"]').first.inner_text()
        assert new_value != old_value and new_value == f"{new['hh_pct__any__all']:,.2f}%"
        delta = page.locator('[data-testid="stMetricDelta"]').first
        assert delta.inner_text().startswith("-")  # a fall: drawn red with the arrow down
        assert scenario.is_symlink() and (scenario / "sites.csv").read_bytes() == good_path.read_bytes()
        assert page.get_by_text("SYNTHETIC", exact=False).count() >= 1
        page.get_by_text("Versions of the scenario (2)").click()
        page.wait_for_timeout(1000)
        versions = page.locator('[data-testid="stExpander"]').last.inner_text()
        assert "the original folder" in versions and "sites_2025.csv" in versions
        session.shot("data_imported_en.png")

        # Every page now shows the new results.
        session.sidebar_option("National")
        session.map_frame(min_paths=30)
        session.wait_idle()
        table = store.read_table(store_dir, "province", "63")
        expected = 100 * table["hh_cov__any__all"].sum() / table["households"].sum()
        session.wait_text(f"{expected:,.1f}%")
        _record(data_page_import_and_rebuild_s=round(elapsed, 1))
    finally:
        session.context.close()


# Counts the app's script runs (Streamlit marks its root element while a run is going on).
_COUNT_RUNS = """(() => { if (window !== window.top) return; window.__runs = 0;
  const watch = new MutationObserver(() => { const app = document.querySelector('[data-testid="stApp"]');
    if (!app) return; watch.disconnect(); let last = null;
    const note = () => { const s = app.getAttribute('data-test-script-state');
                         if (s === 'running' && last !== 'running') window.__runs++; last = s; };
    note();
    new MutationObserver(note).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']}); });
  watch.observe(document, {subtree: true, childList: true}); })();"""


def test_a_click_on_a_partly_hidden_map_opens_the_province_in_one_run(browser, server: str,  # noqa: ANN001
                                                                       demo_store: Path) -> None:
    """On a laptop screen the national map's bottom is below the fold. A click on a province must
    still land (Leaflet focused the map on mousedown, which scrolled the page under the pointer),
    and it opens the province's page in the one run the click starts (it used to take two)."""
    session = Session(browser, server, viewport={"width": 1440, "height": 900})
    try:
        session.context.add_init_script(_COUNT_RUNS)
        table = store.read_table(demo_store, "province", "63").set_index("code")
        session.page.goto(session.url)
        frame = session.map_frame(min_paths=len(table))
        session.wait_idle()
        box = session.page.locator('iframe[title="streamlit_folium.st_folium"]').first.bounding_box()
        assert box["y"] + box["height"] > 900, "the map fits on the screen: nothing to check"
        points = table.geometry.representative_point()
        code = points.y.idxmax()  # the northernmost province: at the top of the map
        xy = frame.evaluate("([lat, lng]) => { const p = window.map.latLngToContainerPoint([lat, lng]);"
                            " return [p.x, p.y]; }", [points[code].y, points[code].x])
        x, y = box["x"] + xy[0], box["y"] + xy[1]
        assert 0 < y < 900, "the province is not on the screen"
        runs = session.page.evaluate("() => window.__runs")
        session.page.mouse.click(x, y)
        session.page.get_by_role("heading", name=table.loc[code, "name"], exact=True).wait_for(timeout=30_000)
        session.wait_idle()
        assert session.page.evaluate("() => window.__runs") == runs + 1
    finally:
        session.context.close()


def test_another_province_swaps_the_map_layers_in_place(session: Session, demo_store: Path) -> None:
    """Choosing another province keeps the province map (no new frame, no new Leaflet) and shows
    the new province's communes and villages, fitted to it."""
    villages = pd.read_parquet(demo_store / "villages.parquet", columns=["province_63", "cov__any__all"])
    communes = store.read_table(demo_store, "commune", "63")
    provinces = store.read_table(demo_store, "province", "63").set_index("code")
    session.page.goto(session.url)
    session.map_frame(min_paths=30)
    session.wait_idle()
    session.sidebar_option("Tỉnh/thành")
    first = session.page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').last
    first.wait_for()
    frame = session.map_frame(min_paths=0)
    session.layer_counts(lambda c: c[0] > 0)
    frame.evaluate("() => { window.__kept = true; }")
    code = villages.loc[~villages["cov__any__all"], "province_63"].value_counts().idxmax()
    first.click()
    session.page.keyboard.type(provinces.loc[code, "name"])
    session.page.get_by_role("option", name=provinces.loc[code, "name"], exact=True).click()
    session.wait_idle()
    n_communes = int((communes["parent_code"] == code).sum())
    n_uncovered = int((~villages["cov__any__all"] & (villages["province_63"] == code)).sum())
    counts = session.layer_counts(lambda c: c == [n_communes, n_uncovered])
    assert counts == [n_communes, n_uncovered]
    frame = session.map_frame(min_paths=0)
    assert frame.evaluate("() => window.__kept === true"), "the province map was reloaded"
    west, south, east, north = provinces.geometry[code].bounds
    centre = frame.evaluate("() => [window.map.getCenter().lat, window.map.getCenter().lng]")
    assert south < centre[0] < north and west < centre[1] < east, "the map does not show the province"


# -- sign-in and roles, as the readers meet them ------------------------------------------------------
_ROLE_PASSWORD = "a long browser password"


@pytest.fixture(scope="module")
def roles_server(demo_store: Path, tmp_path_factory: pytest.TempPathFactory):
    """The app with users, created as an administrator does (``vnbb users add``): the ministry,
    Viettel, and the province of Sơn La (14, 63 scheme). Yields (address, database URL)."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp('roles-db') / 'users.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if k not in ("VNBB_STORE", "VNBB_DB_URL")} | {"VNBB_DB_URL": db_url}
    for args in (["bo", "--role", "ministry"], ["viettel", "--role", "operator", "--operator", "Viettel"],
                 ["son-la", "--role", "province", "--province", "14", "--scheme", "63"]):
        done = subprocess.run([sys.executable, "-m", "app.cli", "users", "add", *args, "--password-stdin"],
                              input=_ROLE_PASSWORD + "\n", cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    with _streamlit(env, tmp_path_factory.mktemp("streamlit-roles") / "server.log") as url:
        yield url, db_url


def _sign_in(session: Session, name: str, password: str) -> None:
    page = session.page
    page.get_by_label(tr("auth.name", "vi")).fill(name)
    page.get_by_label(tr("auth.password", "vi")).fill(password)
    page.locator('[data-testid="stFormSubmitButton"] button').click()
    session.wait_idle()


def _select_box(session: Session, label: str, where: str):  # noqa: ANN202
    scope = session.page.locator(f'[data-testid="{where}"]')
    return scope.locator('[data-testid="stSelectbox"]').filter(has_text=label).first


def _options(session: Session, label: str, where: str = "stSidebar") -> list[str]:
    """The options a select box offers (opened, read, closed again)."""
    _select_box(session, label, where).click()
    options = session.page.locator('[role="option"]')
    options.first.wait_for(timeout=10_000)
    texts = [t.strip() for t in options.all_inner_texts()]
    session.page.keyboard.press("Escape")
    return texts


def _choose(session: Session, label: str, option: str, where: str = "stSidebar") -> None:
    _select_box(session, label, where).click()
    session.page.keyboard.type(option)  # the list is virtual: narrow it to the option first
    session.page.locator('[role="option"]').filter(has_text=option).first.click()
    session.wait_idle()


def test_sign_in_roles_and_sign_out_in_the_browser(browser, roles_server, demo_store: Path) -> None:  # noqa: ANN001
    """Nothing but the form before signing in; a wrong password refused; the operator offered its
    own network only and its sites; sign-out ends the session (a reload too); the province user
    opens on its own province with village detail, and gets none for another province."""
    url, _ = roles_server
    provinces = store.read_table(demo_store, "province", "63")
    session = Session(browser, url)
    page = session.page
    try:
        page.goto(url)
        session.wait_text(tr("auth.hint", "vi", hours="8")[:20])
        assert page.locator("iframe").count() == 0  # no map, no data before signing in
        assert page.locator('[data-testid="stSidebar"]').count() == 0 or \
            not page.locator('[data-testid="stSidebar"]').inner_text().strip()
        session.shot("roles_sign_in_form.png")

        _sign_in(session, "viettel", "not the password")
        session.wait_text(tr("auth.failed", "vi"))
        assert page.locator("iframe").count() == 0
        session.shot("roles_wrong_password.png")

        _sign_in(session, "viettel", _ROLE_PASSWORD)
        session.map_frame(min_paths=len(provinces))
        session.wait_text(tr("auth.signed_in_as", "vi", who="viettel (nhà mạng: Viettel)"))
        _choose(session, tr("tech.label", "vi"), tr("tech.4G", "vi"))
        offered = _options(session, tr("operator.label", "vi"))
        assert offered == [tr("operator.all", "vi"), "Viettel"], offered  # other networks never offered
        session.shot("roles_operator_national.png")

        session.sidebar_option(tr("view.operator", "vi"))
        session.wait_text(tr("export.heading", "vi"))
        exported = _options(session, tr("operator.label", "vi"), where="stMain")
        assert "MobiFone" not in exported and "VNPT" not in exported and "Viettel" in exported, exported
        session.shot("roles_operator_export.png")

        page.locator('[data-testid="stSidebar"]').get_by_role(
            "button", name=tr("auth.sign_out", "vi")).click()
        session.wait_idle()
        session.wait_text(tr("auth.hint", "vi", hours="8")[:20])
        page.reload()
        session.wait_text(tr("auth.hint", "vi", hours="8")[:20])
        assert page.locator("iframe").count() == 0

        _sign_in(session, "son-la", _ROLE_PASSWORD)
        session.sidebar_option(tr("view.province", "vi"))
        son_la = provinces.loc[provinces["code"] == "14", "name"].item()
        session.wait_text(tr("auth.signed_in_as", "vi", who=f"son-la (tỉnh/thành: {son_la})"))
        session.wait_text(son_la)
        session.wait_idle()
        communes = store.read_table(demo_store, "commune", "63")
        villages = pd.read_parquet(demo_store / "villages.parquet", columns=["province_63", "cov__any__all"])
        uncovered = int((~villages["cov__any__all"] & (villages["province_63"] == "14")).sum())
        n_communes = int((communes["parent_code"] == "14").sum())
        # its communes, and its uncovered villages as points: the detail a province sees of itself
        session.layer_counts(lambda c: c == [n_communes, uncovered])
        session.assert_shows(provinces.set_index("code").geometry["14"])  # fitted, not all of Vietnam
        assert page.get_by_text(tr("auth.detail_own_only", "vi")).count() == 0  # its own villages shown
        session.shot("roles_province_own.png")
        other = provinces.loc[provinces["code"] == "01", "name"].item()  # Hà Nội
        _choose(session, tr("province.label", "vi"), other)
        session.wait_text(tr("auth.detail_own_only", "vi"))
        session.shot("roles_province_other.png")
    finally:
        session.context.close()
