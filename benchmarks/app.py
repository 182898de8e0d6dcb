"""App responsiveness in a real browser: how long a reader waits for the maps, and what travels.

``python -m benchmarks.app [--runs 5]`` (with ``VNBB_DATA_DIR`` set, as for the tests) starts
``streamlit run streamlit_app.py`` on a free port with the demo store (built into a private cache
folder before anything is timed), drives Debian's chromium (``/usr/bin/chromium``, headless,
through Playwright) with every host but this machine unresolvable (as on a laptop with no
internet; unlike request routing this keeps the browser's cache working), and measures, each
``--runs`` times (median, min, max):

* **first paint**: page load to the national map's province shapes drawn; a *cold server* (a
  fresh ``streamlit run`` per run, its first visitor), the same *warmed up* (the server ran the
  script once for nobody right after starting, through Streamlit's script health check), a
  *warm server* (one visit already served) with an empty browser cache (a new visitor), and a
  *reload* (warm server, browser cache warm); and the *floor*: the same map alone on a
  Streamlit page (no sidebar, figures, chart or tables), what Streamlit and the map component
  cost whatever the app puts around the map;
* the *phases* of a first paint: websocket open (Streamlit's page has booted), script start,
  the map's data message, the map's frame created, script end;
* **payload** until that paint: bytes received over Streamlit's websocket and over HTTP, and
  the HTTP part compressed with gzip (what a compressing proxy would send: Streamlit serves its
  static files uncompressed);
* **switches**: time to redraw after choosing another province (province page), another scheme
  (63 -> 34 and back, national page), another indicator (households -> villages and back), and
  after a click on a province in the national map (its page drawn).

Definitions (all times on the browser's own clock, checked every 20 ms):

* *page load* is the navigation start of the tab (``performance.timeOrigin``);
* *a switch starts* at the reader's input that makes the choice (the ``pointerdown`` on the
  option or on the map, or the ``keydown``), recorded by a listener in the page;
* *shapes drawn / redrawn* is the first moment the map's frame holds, on the Leaflet map, a data
  layer that was not on it before the input, with the expected number of polygons (and of village
  points on a province page) and, on the national map, one SVG shape per province in the
  document and the expected fill colours (computed from the store with :mod:`app.metrics`);
* *settled* is when Streamlit's script run that the input started has finished (the app's
  ``data-test-script-state`` back to ``notRunning`` and staying so), the rest of the page included;
* *payload* is the size of the websocket messages received (counted in the page) and the HTTP
  transfer sizes (``PerformanceResourceTiming.transferSize``: headers and body as sent, 0 when
  served from the browser's cache) of the page and the map frame, up to the paint.

Not part of the test suite. Results: a table on stdout and ``benchmarks/results/app-<date>.json``
with the machine (cores, RAM, CPU, load) and the versions of the browser and the libraries.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
CHROMIUM = Path("/usr/bin/chromium")
# As in tests/test_browser.py, plus: every host but this machine fails to resolve (no internet).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
VIEWPORT = {"width": 1440, "height": 900}
LANG = "vi"
POLL_MS = 20
TIMEOUT_MS = 120_000

# Installed in every frame before the app's own scripts: counts websocket traffic, notes the
# reader's inputs and Streamlit's run state, and tells when a map shows what is expected.
_PAGE_JS = r"""
(() => {
  if (window !== window.top) {  // the map's frame: its inputs count as the reader's, on the top clock
    const mark = () => { try { window.top.__vnbb.action = performance.timeOrigin + performance.now()
                                                           - window.top.performance.timeOrigin; } catch (e) {} };
    window.addEventListener('pointerdown', mark, true);
    return;
  }
  if (window.__vnbb) return;
  const V = window.__vnbb = {ws: [], sent: [], states: [], action: null};
  try { performance.setResourceTimingBufferSize(100000); } catch (e) {}
  const size = d => typeof d === 'string' ? new TextEncoder().encode(d).length
                  : (d && d.byteLength !== undefined ? d.byteLength : (d && d.size) || 0);
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', e => V.ws.push([performance.now(), size(e.data)]));
    }
    send(d) { V.sent.push([performance.now(), size(d)]); return super.send(d); }
  };
  for (const type of ['pointerdown', 'keydown']) {
    window.addEventListener(type, () => { V.action = performance.now(); }, true);
  }
  let app = null, last = null;
  // Every state the app went through, from the changes' old values (a busy page may see
  // running -> notRunning in one callback).
  const note = records => {
    const values = (records || []).map(r => r.oldValue).concat([app && app.getAttribute('data-test-script-state')]);
    for (const s of values) if (s && s !== last) { last = s; V.states.push([performance.now(), s]); }
  };
  const find = new MutationObserver(() => {
    const found = document.querySelector('[data-testid="stApp"]');
    if (found && found !== app) {
      app = found;
      note();
      new MutationObserver(note).observe(app, {attributes: true, attributeOldValue: true,
                                               attributeFilter: ['data-test-script-state']});
    }
  });
  find.observe(document, {subtree: true, childList: true});

  V.maps = () => Array.from(document.querySelectorAll('iframe'))
    .filter(f => (f.getAttribute('src') || '').includes('st_folium'))
    .map(f => { try { return f.contentWindow; } catch (e) { return null; } })
    .filter(w => w && w.map && w.L);
  V.content = w => {
    const groups = (w.feature_group || []).filter(g => w.map.hasLayer(g));
    const fills = [];
    let polygons = 0, points = 0;
    w.map.eachLayer(l => {
      if (l.feature && l.feature.geometry) {
        if (l.feature.geometry.type === 'Point') points++; else { polygons++; fills.push(l.options.fillColor); }
      }
    });
    return {groups, fills, polygons, points, svg: w.document.querySelectorAll('path.leaflet-interactive').length};
  };
  V.tag = () => { for (const w of V.maps()) for (const g of (w.feature_group || [])) g.__vnbbOld = true; };
  V.drawn = exp => {
    for (const w of V.maps()) {
      const c = V.content(w);
      if (!c.groups.length || c.groups.some(g => g.__vnbbOld)) continue;
      if (c.polygons !== exp.polygons || (exp.points !== null && c.points !== exp.points)) continue;
      if (exp.svg && c.svg < exp.polygons) continue;
      if (exp.fills && c.fills.slice().sort().join(',') !== exp.fills) continue;
      return performance.now();
    }
    return 0;
  };
  // Time of the end of the run started after `since`, once the app has stayed idle for `quiet` ms:
  // the app not running and the last message of the run (or its last state change) `quiet` ms
  // old. The run's messages count as well as its states because a page that receives a whole
  // run at once (a busy page, or a run whose map the page holds: a few kB) may never show it as
  // running: React renders only the last state.
  V.settled = ([since, quiet]) => {
    const after = V.states.filter(([t]) => t > since), received = V.ws.filter(([t]) => t > since);
    const now = V.states.length ? V.states[V.states.length - 1][1] : null;
    if (now !== 'notRunning' || !(received.length || after.some(([, s]) => s === 'running'))) return 0;
    const end = Math.max(after.length ? after[after.length - 1][0] : 0,
                         received.length ? received[received.length - 1][0] : 0);
    return performance.now() - end >= quiet ? end : 0;
  };
  // When the parts of a first paint happened (ms): websocket open (Streamlit's page booted),
  // the script run, the largest message (the map's data), the map's frame created.
  V.phases = to => {
    const out = {ws_open: V.ws.length ? V.ws[0][0] : null, map_message: null, map_frame: null,
                 script_start: null, script_end: null};
    let largest = 0;
    for (const [t, n] of V.ws) if (t <= to && n > largest) { largest = n; out.map_message = t; }
    for (const w of V.maps()) out.map_frame = w.performance.timeOrigin - performance.timeOrigin;
    const start = V.states.find(([, s]) => s === 'running');
    if (start) {
      out.script_start = start[0];
      const end = V.states.find(([t, s]) => t > start[0] && s === 'notRunning');
      out.script_end = end ? end[0] : null;
    }
    return out;
  };
  // Resource timing entries of the page and of its frames, each with its end on the page's clock.
  V.entries = () => {
    const out = [];
    const add = (entries, offset) => { for (const e of entries) out.push([e, e.responseEnd + offset]); };
    add(performance.getEntriesByType('navigation'), 0);
    add(performance.getEntriesByType('resource'), 0);
    for (const f of document.querySelectorAll('iframe')) {
      try {
        const p = f.contentWindow.performance;
        add(p.getEntriesByType('resource'), p.timeOrigin - performance.timeOrigin);
      } catch (e) {}
    }
    return out;
  };
  V.urls = to => V.entries().filter(([e, end]) => end <= to && e.name.startsWith(location.origin))
                            .map(([e]) => e.name);
  V.bytes = ([from, to]) => {
    const out = {ws_received: 0, ws_messages: 0, ws_sent: 0, http_transfer: 0, http_decoded: 0, http_requests: 0};
    for (const [t, n] of V.ws) if (t > from && t <= to) { out.ws_received += n; out.ws_messages++; }
    for (const [t, n] of V.sent) if (t > from && t <= to) out.ws_sent += n;
    for (const [e, end] of V.entries()) {
      if (end > from && end <= to) { out.http_transfer += e.transferSize; out.http_decoded += e.decodedBodySize;
                                     out.http_requests++; }
    }
    return out;
  };
})();
"""


def demo_server_env(cache: Path) -> tuple[dict[str, str], Path]:
    """The environment of a server on the demo store in ``cache``, and the store, built first
    (in a child process, as the app builds it on a first start) so that no timing includes it."""
    env = {k: v for k, v in os.environ.items() if k != "VNBB_STORE"}
    env["VNBB_CACHE_DIR"] = str(cache)
    built = subprocess.run([sys.executable, "-c", "from app import data; print(data.build_demo_store())"],
                           cwd=ROOT, env=env, capture_output=True, text=True)
    if built.returncode:
        sys.exit(f"building the demo store failed:\n{built.stderr[-3000:]}")
    return env, Path(built.stdout.strip().splitlines()[-1])


# -- the machine and the server ------------------------------------------------------------------------
def machine() -> dict:
    """Cores, memory, CPU and load of this machine, and the versions that matter here."""
    from benchmarks.national import machine as _machine

    info = _machine()
    info["load_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    for package in ("streamlit", "streamlit-folium", "folium", "playwright"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    try:
        info["commit"] = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                                        capture_output=True, text=True, timeout=30).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        info["chromium"] = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True,
                                          timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(env: dict[str, str], log: Path, root: Path = ROOT, script: str = "streamlit_app.py",
           warm_up: bool = False):
    """``streamlit run streamlit_app.py`` of ``root`` on a free port (as tests/test_browser.py
    starts it); yields its URL and the seconds it took to answer its health check.

    ``warm_up``: once up, the server runs the app's script once for nobody (Streamlit's script
    health check), as a deployment can do right after starting it: imports and caches are then
    warm for the first visitor."""
    port = _free_port()
    started = time.perf_counter()
    with log.open("a") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(root / script), "--server.headless=true",
             f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false",
             "--server.fileWatcherType=none", "--global.developmentMode=false",
             f"--server.scriptHealthCheckEnabled={str(warm_up).lower()}"],
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.perf_counter() - started > 90:
                raise RuntimeError(f"streamlit did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        for attempt in range(3 if warm_up else 0):  # Streamlit gives up after 60 s on a busy machine
            try:
                with urllib.request.urlopen(f"{url}/_stcore/script-health-check", timeout=120) as r:
                    r.read()
                break
            except OSError as exc:
                if attempt == 2:
                    raise RuntimeError(f"the warm-up run failed: {exc}\n{log.read_text()[-3000:]}") from exc
        yield url, time.perf_counter() - started
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- what the maps must show, from the store -----------------------------------------------------------
def expectations(store_path: Path) -> dict:
    """Per scheme and indicator, the national map's polygons and fill colours; per province, its
    communes and uncovered villages on the province page (with the default choices)."""
    import geopandas as gpd
    import pandas as pd

    from app import metrics
    from coverage import store

    manifest = store.read_manifest(store_path)
    villages = pd.read_parquet(store_path / "villages.parquet")
    out: dict = {"national": {}, "province": {}, "names": {}}
    for scheme in ("63", "34"):
        table: gpd.GeoDataFrame = store.read_table(store_path, "province", scheme)
        shown = table.loc[table.geometry.notna()]
        out["names"][scheme] = dict(zip(table["code"], table["name"]))
        for indicator in ("households", "villages"):
            sel, target = _default_selection(manifest, scheme, indicator)
            measured = metrics.measure(shown.drop(columns="geometry"), sel, target)
            out["national"][(scheme, indicator)] = {"polygons": len(shown), "points": None, "svg": True,
                                                    "fills": ",".join(sorted(measured["colour"]))}
        sel, _ = _default_selection(manifest, scheme, "households")
        communes = store.read_table(store_path, "commune", scheme)
        communes = communes.loc[communes.geometry.notna()]
        n_communes = communes["parent_code"].value_counts()
        uncovered = villages.loc[~villages[f"cov__{sel.layer}"].astype(bool), f"province_{scheme}"].value_counts()
        out["province"][scheme] = {code: {"polygons": int(n_communes.get(code, 0)),
                                          "points": int(uncovered.get(code, 0)), "svg": False, "fills": None}
                                   for code in table["code"]}
        out.setdefault("points", {})[scheme] = {
            code: (float(p.y), float(p.x)) for code, p in zip(shown["code"], shown.geometry.representative_point())}
    return out


def _default_selection(manifest: dict, scheme: str, indicator: str):
    """The choices the app starts an indicator on: its first target, that target's networks."""
    from app import metrics

    target = metrics.targets_for(manifest, indicator)[0]
    tech = metrics.target_technology(target)
    techs = metrics.technologies_for(manifest, indicator)
    return metrics.Selection(scheme, indicator, target["id"], tech if tech in techs else techs[0]), target


# -- one browser tab ---------------------------------------------------------------------------------
class Tab:
    """A tab on the app with the page script of this module installed."""

    def __init__(self, browser, url: str, timeout_ms: int = TIMEOUT_MS) -> None:  # noqa: ANN001
        self.timeout_ms = timeout_ms  # how long a wait lasts before it fails (benchmarks.load: shorter)
        self.context = browser.new_context(viewport=VIEWPORT)
        self.context.add_init_script(_PAGE_JS)
        self.outside: list[str] = []
        self.context.on("request", self._request)
        self.page = self.context.new_page()
        self.url = url

    def _request(self, request) -> None:  # noqa: ANN001
        host = request.url.split("/")[2] if "://" in request.url else ""
        if not host.startswith("127.0.0.1"):
            self.outside.append(request.url)

    def close(self) -> None:
        self.context.close()

    def _call(self, name: str, arg: object = None):  # noqa: ANN202
        return self.page.evaluate(f"arg => window.__vnbb.{name}(arg)", arg)

    def _wait(self, name: str, arg: object) -> float:
        handle = self.page.wait_for_function(f"arg => window.__vnbb && window.__vnbb.{name}(arg)", arg=arg,
                                             polling=POLL_MS, timeout=self.timeout_ms)
        return float(handle.json_value())

    def load(self, expect: dict, reload: bool = False) -> dict:
        """Open (or reload) the app; seconds from navigation start to the map drawn, and bytes."""
        if reload:
            self.page.reload(wait_until="commit")
        else:
            self.page.goto(self.url, wait_until="commit")
        drawn = self._wait("drawn", expect)
        result = {"seconds": drawn / 1000, **self._call("bytes", [-1, drawn])}
        self.settle(0)
        phases = self._call("phases", drawn)
        result.update({f"{k}_s": (v / 1000 if v is not None else None) for k, v in phases.items()})
        result["http_gzip"] = sum(_gzip_size(url) for url in self._call("urls", drawn))
        return result

    def settle(self, since: float) -> float:
        """Time (ms, page clock) at which the run that started after ``since`` finished."""
        return self._wait("settled", [since, 400])

    def switch(self, act, expect: dict) -> dict:  # noqa: ANN001
        """Seconds from the reader's input (``act``) to the new map drawn and the run settled."""
        self._call("tag")
        before = self.page.evaluate("() => performance.now()")
        act()
        drawn = self._wait("drawn", expect)
        start = self.page.evaluate("() => window.__vnbb.action")
        if start is None or start < before:
            raise RuntimeError("the input was not seen by the page")
        settled = self.settle(start)
        traffic = self._call("bytes", [start, drawn])
        return {"seconds": (drawn - start) / 1000, "settled_seconds": (settled - start) / 1000,
                "ws_received": traffic["ws_received"], "http_transfer": traffic["http_transfer"]}

    # inputs
    def sidebar_option(self, label: str) -> None:
        self.page.locator('[data-testid="stSidebar"]').get_by_text(label, exact=True).click()

    def sidebar_select(self, label: str, option: str, type_text: bool = False) -> None:
        box = self.page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(
            has=self.page.get_by_test_id("stWidgetLabel").get_by_text(label, exact=True))
        box.click()
        if type_text:
            self.page.keyboard.type(option)
        self.page.get_by_role("option", name=option, exact=True).click()

    def click_map(self, lat: float, lng: float) -> None:
        """Click the national map at a point (the map scrolled into view first, as a reader would)."""
        iframe = self.page.locator('iframe[title="streamlit_folium.st_folium"]').first
        iframe.scroll_into_view_if_needed()
        frame = next(f for f in self.page.frames if "st_folium" in f.url)
        xy = frame.evaluate("([lat, lng]) => { const p = window.map.latLngToContainerPoint([lat, lng]);"
                            " return [p.x, p.y]; }", [lat, lng])
        box = iframe.bounding_box()
        self.page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])


_GZIP: dict[str, int] = {}


def _gzip_size(url: str) -> int:
    """Size of a response compressed with gzip (level 6), as a compressing proxy would send it:
    the server's own static files go out uncompressed."""
    if url not in _GZIP:
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                _GZIP[url] = len(gzip.compress(r.read(), compresslevel=6))
        except OSError:  # a media file the session has released since: not counted
            _GZIP[url] = 0
    return _GZIP[url]


# -- the measurements ----------------------------------------------------------------------------------
def _first_paints(browser, env: dict, log: Path, expect: dict, runs: int) -> dict:  # noqa: ANN001
    """Cold server (a new server per run), warm server with a new visitor, and reloads."""
    national = expect["national"][("63", "households")]
    cold = []
    for _ in range(runs):
        with server(env, log) as (url, startup):
            tab = Tab(browser, url)
            try:
                cold.append({**tab.load(national), "server_start_seconds": startup})
            finally:
                tab.close()
    warmed = []
    for _ in range(runs):
        with server(env, log, warm_up=True) as (url, startup):
            tab = Tab(browser, url)
            try:
                warmed.append({**tab.load(national), "server_start_seconds": startup})
            finally:
                tab.close()
    with server(env, log) as (url, _):
        tab = Tab(browser, url)
        tab.load(national)  # the first visitor: the server's caches are warm afterwards
        tab.close()
        warm, reload = [], []
        for _ in range(runs):
            tab = Tab(browser, url)
            try:
                warm.append(tab.load(national))
            finally:
                tab.close()
        tab = Tab(browser, url)
        try:
            tab.load(national)
            for _ in range(runs):
                reload.append(tab.load(national, reload=True))
            outside = sorted({u.split("/")[2] for u in tab.outside})
        finally:
            tab.close()
    return {"cold_server": cold, "cold_server_warmed_up": warmed, "warm_server_new_visitor": warm,
            "warm_server_reload": reload, "outside_hosts_asked": outside}


# The floor: the same national map, alone on a Streamlit page (no sidebar, figures, chart, tables).
_FLOOR_APP = """import sys
sys.path.insert(0, {root!r})
import streamlit as st
from streamlit_folium import st_folium
from app import data, maps, metrics
from app.views import national

key = data.ref(data.ready_store())
target = metrics.targets_for(data.manifest(key), "households")[0]
sel = metrics.Selection("63", "households", target["id"], metrics.target_technology(target))
group = maps.choropleth(national._features(key, sel, "vi"), national.TOOLTIP_FIELDS, national.TOOLTIP_FIELDS,
                        name="provinces")
st_folium(maps.base_map(maps.VIETNAM_BOUNDS, view_key="floor"), key="floor", height=national.MAP_HEIGHT,
          use_container_width=True, feature_group_to_add=group, returned_objects=["last_object_clicked"])
"""


def _floor(browser, env: dict, log: Path, expect: dict, runs: int, folder: Path) -> dict:  # noqa: ANN001
    """First paint of the national map alone on a Streamlit page (warm server, new visitor): what
    Streamlit's page and the map component cost whatever the app puts around the map."""
    script = folder / "floor_app.py"
    script.write_text(_FLOOR_APP.format(root=str(ROOT)), encoding="utf-8")
    national = expect["national"][("63", "households")]
    with server(env, log, folder, script.name) as (url, _):
        tab = Tab(browser, url)
        tab.load(national)
        tab.close()
        out = []
        for _ in range(runs):
            tab = Tab(browser, url)
            try:
                out.append(tab.load(national))
            finally:
                tab.close()
    return {"floor_map_alone_new_visitor": out}


def _switches(browser, env: dict, log: Path, expect: dict, runs: int) -> dict:  # noqa: ANN001
    """Scheme, indicator and province switches, and a province opened from the map, on one
    server whose first visit has been served (the first run of each is the first ever)."""
    from app.i18n import tr

    t = lambda key: tr(key, LANG)  # noqa: E731
    names, nat = expect["names"], expect["national"]
    out: dict[str, list] = {"scheme_63_to_34": [], "scheme_34_to_63": [], "indicator_households_to_villages": [],
                            "indicator_villages_to_households": [], "province": [], "map_click_to_province": []}
    with server(env, log) as (url, _):
        tab = Tab(browser, url)
        try:
            tab.load(nat[("63", "households")])
            for _ in range(runs):
                out["scheme_63_to_34"].append(tab.switch(lambda: tab.sidebar_option(t("scheme.34")),
                                                         nat[("34", "households")]))
                out["scheme_34_to_63"].append(tab.switch(lambda: tab.sidebar_option(t("scheme.63")),
                                                         nat[("63", "households")]))
            for _ in range(runs):
                out["indicator_households_to_villages"].append(tab.switch(
                    lambda: tab.sidebar_select(t("indicator.label"), t("indicator.villages")),
                    nat[("63", "villages")]))
                out["indicator_villages_to_households"].append(tab.switch(
                    lambda: tab.sidebar_select(t("indicator.label"), t("indicator.households")),
                    nat[("63", "households")]))

            # map clicks: provinces spread over the list, each opened once
            points = expect["points"]["63"]
            codes = sorted(c for c in points if expect["province"]["63"][c]["polygons"])
            clicked = codes[len(codes) // 7::max(1, len(codes) // (runs + 1))][:runs]
            for code in clicked:
                lat, lng = points[code]
                out["map_click_to_province"].append(
                    {"province": code, **tab.switch(lambda: tab.click_map(lat, lng), expect["province"]["63"][code])})
                tab.sidebar_option(t("view.national"))
                tab.page.wait_for_function("exp => window.__vnbb.drawn(exp)", arg=nat[("63", "households")],
                                           polling=POLL_MS, timeout=TIMEOUT_MS)
                tab.settle(0)

            # the province page: choose other provinces in its list, none opened before
            tab.sidebar_option(t("view.province"))
            tab.page.wait_for_function("() => window.__vnbb.maps().length > 0", polling=POLL_MS,
                                       timeout=TIMEOUT_MS)
            tab.settle(0)
            others = [c for c in codes if c not in clicked]
            chosen = others[len(others) // 11::max(1, len(others) // (runs + 1))][:runs]
            for code in chosen:
                out["province"].append({"province": code, **tab.switch(
                    lambda: tab.sidebar_select(t("province.label"), names["63"][code], type_text=True),
                    expect["province"]["63"][code])})
        finally:
            tab.close()
    return out


def _summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "n": len(values)}


def summarise(paints: dict, switches: dict) -> dict:
    """Median, min and max of every measure."""
    out: dict = {}
    for name in ("cold_server", "cold_server_warmed_up", "warm_server_new_visitor", "warm_server_reload",
                 "floor_map_alone_new_visitor"):
        runs = paints.get(name)
        if not runs:
            continue
        out[f"first_paint_{name}_s"] = _summary([r["seconds"] for r in runs])
        for field in ("ws_received", "http_transfer", "http_decoded", "http_gzip"):
            out[f"first_paint_{name}_{field}_bytes"] = _summary([r[field] for r in runs])
        for phase in ("ws_open", "script_start", "map_message", "map_frame", "script_end"):
            values = [r[f"{phase}_s"] for r in runs if r.get(f"{phase}_s") is not None]
            if values:
                out[f"first_paint_{name}_phase_{phase}_s"] = _summary(values)
    for name, runs in switches.items():
        out[f"switch_{name}_s"] = _summary([r["seconds"] for r in runs])
        out[f"switch_{name}_settled_s"] = _summary([r["settled_seconds"] for r in runs])
        out[f"switch_{name}_ws_received_bytes"] = _summary([r["ws_received"] for r in runs])
    return out


def _table(summary: dict, info: dict) -> str:
    lines = [f"machine: {info.get('cpu', '?')}, {info.get('cores')} cores, {info.get('ram_gib')} GiB RAM, "
             f"load {info['load_1_5_15']} (before) {info.get('load_after', '')} (after)",
             f"{'measure':<58} {'median':>10} {'min':>10} {'max':>10} {'n':>3}"]
    for name, s in summary.items():
        unit = "kB" if name.endswith("_bytes") else "s"
        scale = 1000 if unit == "kB" else 1
        lines.append(f"{name:<58} {s['median'] / scale:>9.2f}{unit[0]} {s['min'] / scale:>9.2f}{unit[0]} "
                     f"{s['max'] / scale:>9.2f}{unit[0]} {s['n']:>3}")
    return "\n".join(lines)


def _write(path: Path, payload: dict) -> None:
    """Atomically (temp file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.app", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per measure (median, min and max of them)")
    parser.add_argument("--only", choices=("paint", "switch", "floor"),
                        help="only first paints (with the floor), only switches, or only the floor")
    parser.add_argument("--cache", type=Path, help="cache folder to build the demo store in and keep "
                        "(default: a temporary one, removed afterwards)")
    parser.add_argument("--out", type=Path, help="JSON file (default benchmarks/results/app-<date>.json)")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} is missing (./dev chromium installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    info = machine()
    with tempfile.TemporaryDirectory(prefix="vnbb-appbench-") as tmp:
        env, store_path = demo_server_env(args.cache or Path(tmp) / "cache")
        expect = expectations(store_path)
        log = Path(tmp) / "server.log"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                paints = _first_paints(browser, env, log, expect, args.runs) if args.only in (None, "paint") else {}
                if args.only in (None, "paint", "floor"):
                    paints.update(_floor(browser, env, log, expect, args.runs, Path(tmp)))
                switches = _switches(browser, env, log, expect, args.runs) if args.only in (None, "switch") else {}
            finally:
                browser.close()
    info["load_after"] = [round(x, 2) for x in os.getloadavg()]
    summary = summarise(paints, switches)
    print(_table(summary, info))
    payload = {"date": dt.datetime.now().isoformat(timespec="seconds"), "machine": info, "runs": args.runs,
               "definitions": __doc__, "summary": summary, "first_paint": paints, "switches": switches}
    out = args.out or RESULTS / f"app-{dt.date.today().isoformat()}.json"
    _write(out, payload)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
