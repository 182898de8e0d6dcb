"""The app under load: N readers at once, each switching indicators and provinces.

``python -m benchmarks.load --users 1 10 30 [--client ws|browser] [--duration 60] [--runs 1]``
(with ``VNBB_DATA_DIR`` set, as for the tests) starts one ``streamlit run streamlit_app.py`` with
the demo store (built into a private cache folder first, as :mod:`benchmarks.app` does) and, for
each N, starts N readers at once (``--stagger`` seconds apart). Each loops, with ``--think``
seconds between inputs, until ``--duration`` seconds have passed since the last reader arrived
(its first page drawn: N readers arriving at once take a while on two cores, so the run's window
starts when all N are in; inputs before it are kept in the JSON but not in the figures):

1. indicator households -> villages, then back (national page);
2. the province page opened (its current province);
3. another province chosen in the province page's list (each reader walks the provinces from
   its own starting point);
4. back to the national page.

Two kinds of reader (``--client``):

* ``ws`` (the default): a :class:`benchmarks.wsclient.Session` speaks Streamlit's websocket
  protocol as the front end does, without a browser. An input is the ``rerun_script`` message a
  click sends (the widget's new value among the states of every widget of the last run); its
  *redraw* is the time from sending it to the run's ``script_finished``, the new map element
  received with the expected shapes (*redraw on the server*; ``map`` is the time to that element
  alone). The response is checked: a map element with the expected number of polygons, of village
  points on a province page and, on the national map, the expected fill colours (computed from
  the store with :mod:`app.metrics`). This loads the server alone: the client neither renders
  nor fetches static files, and the harness's CPU is measured apart.
* ``browser``: one headless chromium (``/usr/bin/chromium``, every host but this machine
  unresolvable) per reader, each driven by its own thread and Playwright driver, timed as
  :mod:`benchmarks.app` times a switch: from the reader's input to the new map drawn with the
  expected shapes (*redraw*) and to Streamlit's run finished (*settled*). (N pages in one browser
  shared over CDP was tried first: every driver then receives every page's events, so the
  harness's CPU grows as N squared.) On two cores, N browsers rendering maps take more CPU than
  the server (1.1-1.2 cores against 0.3 at N = 10): this mode measures what one reader waits
  for at small N (server time plus the browser's own rendering), not the server under load.

Before the runs, one reader of the same kind uses the app for ``--warmup`` seconds (unreported:
the server's caches filled, as after its first readers). Errors are: Streamlit exception and
error elements in a response or on the page, a page's own exceptions, a wrong or missing map,
and waits longer than ``--timeout`` seconds (the reader then starts a new session, as a reload,
and goes on). Every second the server process (its children included) is sampled: resident
memory (``VmRSS``) and CPU time, and the CPU time of the chromium processes, of the Playwright
drivers, of this process (the harness: the ws readers) and of the whole machine, to tell what
the two cores are spent on.

Not part of the test suite. Results: a table on stdout and ``benchmarks/results/load-<date>.json``
(``load-<date>-ws.json`` for ws readers) with the machine (cores, RAM, load before and after),
every timed input, every error and every sample.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.i18n import tr
from benchmarks.app import (CHROMIUM, CHROMIUM_ARGS, LANG, POLL_MS, RESULTS, Tab, _write,
                            demo_server_env, expectations, machine, server)

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_FIRST_PAINT_TIMEOUT_MS = 180_000
_ERROR_SELECTOR = '[data-testid="stException"], [data-testid="stAlertContentError"]'


# -- statistics ------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100), linear between the closest ranks (as numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: list[float]) -> float:
    return percentile(values, 50)


def slope_per_minute(times_s: list[float], values: list[float]) -> float:
    """Least-squares slope of ``values`` over time, per minute (memory growth: MB/min)."""
    if len(times_s) != len(values):
        raise ValueError("times and values differ in length")
    if len(times_s) < 2 or max(times_s) == min(times_s):
        return 0.0
    return statistics.linear_regression(times_s, values).slope * 60


# -- the processes and what they use -----------------------------------------------------------------
def _stat(pid: int) -> tuple[int, int, str] | None:
    """(parent pid, CPU ticks used: user + system, command name) of a process, None once it has gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    return int(fields[1]), int(fields[11]) + int(fields[12]), text[text.index("(") + 1:text.rindex(")")]


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _tree(root: int, parents: dict[int, int]) -> set[int]:
    """``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    out, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in out:
            out.add(pid)
            todo.extend(children.get(pid, ()))
    return out


def _machine_busy() -> tuple[int, int]:
    """(busy ticks, all ticks) of every core since boot."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class Sampler(threading.Thread):
    """Every second: the server's memory (its children included) and the CPU, in cores, used by
    the server, chromium, the Playwright drivers (other children of this process) and the machine."""

    def __init__(self, server_pid: int, t0: float) -> None:
        super().__init__(daemon=True)
        self.server_pid, self.t0 = server_pid, t0
        self.samples: list[dict] = []
        self._halt = threading.Event()
        self._last: dict[int, int] = {}

    def run(self) -> None:
        last_time, last_busy = time.monotonic(), _machine_busy()
        self._groups()
        while not self._halt.wait(1.0):
            now, busy = time.monotonic(), _machine_busy()
            groups = self._groups()
            wall = now - last_time
            sample = {"t": round(now - self.t0, 2),
                      "server_rss_mb": round(sum(_rss_mb(p) for p in groups["server_pids"]), 1)}
            for name in ("server", "chromium", "drivers", "harness"):
                sample[f"cpu_{name}"] = round(groups[name] / _TICKS / wall, 3)
            sample["cpu_machine"] = round((busy[0] - last_busy[0]) / max(1, busy[1] - last_busy[1])
                                          * (os.cpu_count() or 1), 3)
            self.samples.append(sample)
            last_time, last_busy = now, busy

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def _groups(self) -> dict:
        """CPU ticks each group used since the last call (a process that ended meanwhile loses
        its last interval), and the server's processes."""
        stats = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := _stat(int(p)))}
        parents = {pid: s[0] for pid, s in stats.items()}
        server_pids = _tree(self.server_pid, parents)
        others = _tree(os.getpid(), parents) - server_pids - {os.getpid()}
        chromium_pids = {pid for pid in others if stats[pid][2].startswith("chrom")}
        drivers = others - chromium_pids  # Playwright's node drivers
        out: dict = {"server_pids": server_pids, "server": 0, "chromium": 0, "drivers": 0, "harness": 0}
        for group, pids in (("server", server_pids), ("chromium", chromium_pids), ("drivers", drivers),
                            ("harness", {os.getpid()})):
            for pid in pids:
                ticks = stats[pid][1]
                out[group] += max(0, ticks - self._last.get(pid, ticks))
                self._last[pid] = ticks
        return out


def _server_pid(url: str) -> int:
    """The ``streamlit run`` that :func:`benchmarks.app.server` started for ``url``."""
    port = url.rsplit(":", 1)[1]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            args = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"--server.port={port}".encode() in args and (_stat(int(entry)) or (0,))[0] == os.getpid():
            return int(entry)
    raise RuntimeError(f"no streamlit process found for {url}")


# -- the readers ----------------------------------------------------------------------------------------
@dataclass
class _Phase:
    """What the readers of one N share: the clock, the start signal and what they record."""
    users: int
    url: str
    expect: dict
    think: float
    duration: float
    stagger: float
    timeout_ms: int
    ready: threading.Barrier
    go: threading.Event = field(default_factory=threading.Event)
    t0: float = 0.0
    arrived: int = 0  # readers whose first paint is over (drawn or failed)
    steady: float | None = None  # when the last of them arrived: the run's window starts
    timings: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def arrive(self) -> None:
        with self.lock:
            self.arrived += 1
            if self.arrived == self.users:
                self.steady = self.now()

    def over(self) -> bool:
        """``duration`` seconds have passed since every reader arrived."""
        return self.steady is not None and self.now() >= self.steady + self.duration

    def record(self, what: list, item: dict) -> None:
        with self.lock:
            what.append(item)

    def error(self, reader: int, action: str, kind: str, message: str, **extra: object) -> None:
        self.record(self.errors, {"reader": reader, "action": action, "t": round(self.now(), 2), "kind": kind,
                                  "message": message[:500], **extra})

    def walk(self, index: int) -> list[str]:
        """The provinces a reader chooses in turn: all of them, from its own starting point."""
        codes = sorted(c for c, e in self.expect["province"]["63"].items() if e["polygons"])
        return [codes[(index * 7 + 3 * k) % len(codes)] for k in range(len(codes))]


def _loop(phase: _Phase, index: int, step, province_now) -> None:  # noqa: ANN001
    """The reader's inputs, in turn, until the run is over. ``step(action, label, option, expect)``
    makes one input (``expect``: what the new map shows, or a function of the province shown);
    it returns False when the input failed (the reader has started again) or the run is over."""
    t = lambda key: tr(key, LANG)  # noqa: E731
    nat, prov, names = phase.expect["national"], phase.expect["province"]["63"], phase.expect["names"]["63"]
    walk = phase.walk(index)
    loop = 0
    while not phase.over():
        if not (step("indicator", t("indicator.label"), t("indicator.villages"), nat[("63", "villages")])
                and step("indicator", t("indicator.label"), t("indicator.households"), nat[("63", "households")])
                and step("open_province_page", t("view.label"), t("view.province"), lambda code: prov[code])):
            continue
        province = province_now()
        loop += 1
        chosen = next(c for c in walk[loop % len(walk):] + walk if c != province)
        if not (step("province", t("province.label"), names[chosen], prov[chosen])
                and step("national", t("view.label"), t("view.national"), nat[("63", "households")])):
            continue


def _ws_reader(phase: _Phase, index: int) -> None:
    """One reader's session over Streamlit's websocket (:mod:`benchmarks.wsclient`), in its own thread."""
    from benchmarks.wsclient import Session, SessionError

    names = phase.expect["names"]["63"]
    code_of = {name: code for code, name in names.items()}
    province_label = tr("province.label", LANG)
    timeout = phase.timeout_ms / 1000
    session: Session | None = None
    arrived = False
    phase.ready.wait()
    phase.go.wait()
    time.sleep(index * phase.stagger)

    def load() -> bool:
        """A new session (a new visitor, or a reload after an error): its first run timed."""
        nonlocal session
        if session is not None:
            session.close()
        session = Session(phase.url, timeout=max(timeout, _FIRST_PAINT_TIMEOUT_MS / 1000))
        at = phase.now()
        try:
            run = session.open()
        except (SessionError, OSError) as e:
            phase.error(index, "first_paint", "timeout" if "within" in str(e) else "exception", str(e))
            return False
        finally:
            session.timeout = timeout
        return _ws_checked(phase, index, "first_paint", at, run, phase.expect["national"][("63", "households")])

    def step(action: str, label: str, option: str, expect) -> bool:  # noqa: ANN001
        if phase.over():
            return False
        at = phase.now()
        try:
            run = session.choose(label, option)
            if callable(expect):
                expect = expect(code_of.get(session.value(province_label)))
        except (SessionError, OSError, KeyError) as e:
            phase.error(index, action, "timeout" if "within" in str(e) else "exception", f"{type(e).__name__}: {e}")
            ok = False
        else:
            ok = _ws_checked(phase, index, action, at, run, expect)
        if not ok:
            if load():
                time.sleep(phase.think)
            return False
        time.sleep(phase.think)
        return True

    try:
        loaded = load()
        phase.arrive()
        arrived = True
        if loaded:
            time.sleep(phase.think)
            _loop(phase, index, step, lambda: code_of.get(session.value(province_label)))
    except Exception as e:  # noqa: BLE001 - a reader that fails is an error of the run, not of the harness
        phase.error(index, "session", "exception", f"{type(e).__name__}: {e}")
    finally:
        if not arrived:
            phase.arrive()
        if session is not None:
            session.close()


def _ws_checked(phase: _Phase, index: int, action: str, at: float, run, expect: dict | None) -> bool:  # noqa: ANN001
    """Record a run's timing, or why it failed: no map or the wrong one (an error; the reader
    starts again), error elements shown (an error; the timing is kept, as in the browser)."""
    good = [m for m in run.maps if expect is not None and m.matches(expect)]
    if not good:
        found = [{"polygons": m.polygons, "points": m.points} for m in run.maps]
        wanted = expect and {k: expect[k] for k in ("polygons", "points")}
        phase.error(index, action, "wrong_map", f"expected {wanted}, received {found} ({run.status})")
        return False
    phase.record(phase.timings, {"reader": index, "action": action, "t": round(at, 2), "seconds": round(run.seconds, 4),
                                 "map_seconds": round(run.map_seconds, 4), "bytes": run.bytes, "refs": run.refs})
    for message in run.errors:
        phase.error(index, action, "streamlit_error", message)
    return True


# The browser's state when a wait failed: was the input sent, did the server answer, what is drawn.
_DIAGNOSIS_JS = """() => {
  const V = window.__vnbb, since = V.action || 0;
  return {now_ms: performance.now(), action_ms: V.action,
          script_state: V.states.length ? V.states[V.states.length - 1] : null,
          sent_after_input: V.sent.filter(([t]) => t > since).length,
          received_after_input: V.ws.filter(([t]) => t > since).length,
          maps: V.maps().map(w => { const c = V.content(w);
            return {polygons: c.polygons, points: c.points, svg: c.svg, fills: c.fills.slice().sort().join(','),
                    groups: c.groups.length, old: c.groups.some(g => g.__vnbbOld)}; }),
          sidebar: Array.from(document.querySelectorAll('[data-testid="stSidebar"] [data-testid="stSelectbox"]'))
                        .map(e => e.innerText + ': ' + ((e.querySelector('input') || {}).value || '')),
          radios: Array.from(document.querySelectorAll('[data-testid="stSidebar"] input[type=radio]:checked'))
                       .map(i => (i.closest('label') || i).innerText)};
}"""


def _browser_reader(phase: _Phase, index: int) -> None:
    """One reader's session in a headless chromium, in its own thread with its own Playwright driver."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    t = lambda key: tr(key, LANG)  # noqa: E731
    names = phase.expect["names"]["63"]
    pw = sync_playwright().start()
    tab, page_errors, failed, arrived = None, [], None, False
    try:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        tab = Tab(browser, phase.url, timeout_ms=phase.timeout_ms)
        tab.page.set_default_timeout(phase.timeout_ms)
        tab.page.on("pageerror", lambda e: page_errors.append(str(e)))
    except Exception as e:  # noqa: BLE001 - recorded as an error of the run below
        failed = f"{type(e).__name__}: {e}"
    finally:
        phase.ready.wait()
    phase.go.wait()
    time.sleep(index * phase.stagger)

    def diagnosis() -> dict | None:
        try:
            return tab.page.evaluate(_DIAGNOSIS_JS)
        except PlaywrightError:
            return None

    def load() -> bool:
        at = phase.now()
        tab.timeout_ms = max(phase.timeout_ms, _FIRST_PAINT_TIMEOUT_MS)  # N pages booting at once
        try:
            result = tab.load(phase.expect["national"][("63", "households")])
        except PlaywrightError as e:
            phase.error(index, "first_paint", "timeout" if "Timeout" in str(e) else "exception", str(e),
                        diagnosis=diagnosis())
            return False
        finally:
            tab.timeout_ms = phase.timeout_ms
        phase.record(phase.timings, {"reader": index, "action": "first_paint", "t": round(at, 2),
                                     "seconds": result["seconds"]})
        return True

    def province_box():  # noqa: ANN202
        return tab.page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(
            has=tab.page.get_by_test_id("stWidgetLabel").get_by_text(t("province.label"), exact=True))

    def shown_province() -> str | None:
        """The province the province page shows (waits for its list in the sidebar: a combo box
        whose text field holds the chosen name)."""
        shown = province_box().get_by_role("combobox").input_value()
        return next((code for code, name in names.items() if name == shown), None)

    def act(label: str, option: str) -> None:
        if label == t("view.label"):
            tab.sidebar_option(option)
        else:
            tab.sidebar_select(label, option, type_text=label == t("province.label"))

    def switch(label: str, option: str, expect) -> dict:  # noqa: ANN001
        """As :meth:`benchmarks.app.Tab.switch`; ``expect`` may be a function of the province the
        page shows once it has drawn its sidebar (the province page opened on its current one)."""
        if not callable(expect):
            return tab.switch(lambda: act(label, option), expect)
        page = tab.page
        page.evaluate("() => window.__vnbb.tag()")
        before = page.evaluate("() => performance.now()")
        act(label, option)
        province_box().wait_for(state="visible", timeout=phase.timeout_ms)
        code = shown_province()
        if code is None:
            raise RuntimeError("the province page shows no province of the store")
        wanted = expect(code)
        drawn = float(page.wait_for_function("exp => window.__vnbb && window.__vnbb.drawn(exp)", arg=wanted,
                                             polling=POLL_MS, timeout=phase.timeout_ms).json_value())
        start = page.evaluate("() => window.__vnbb.action")
        if start is None or start < before:
            raise RuntimeError("the input was not seen by the page")
        settled = tab.settle(start)
        return {"seconds": (drawn - start) / 1000, "settled_seconds": (settled - start) / 1000}

    def step(action: str, label: str, option: str, expect) -> bool:  # noqa: ANN001
        """One input, timed, then the think time. False when the run is over or the input
        failed (the page is then reloaded: a new session)."""
        if phase.over():
            return False
        at = phase.now()
        seen = len(page_errors)
        try:
            result = switch(label, option, expect)
            phase.record(phase.timings, {"reader": index, "action": action, "t": round(at, 2),
                                         "seconds": result["seconds"], "settled_seconds": result["settled_seconds"]})
            shown = tab.page.locator(_ERROR_SELECTOR).count()
        except (PlaywrightError, RuntimeError) as e:
            phase.error(index, action, "timeout" if "Timeout" in str(e) else "exception", str(e),
                        diagnosis=diagnosis(), started=round(at, 2), expected=None if callable(expect) else expect)
            if load():
                time.sleep(phase.think)
            return False
        for message in page_errors[seen:]:
            phase.error(index, action, "page_error", message)
        if shown:
            phase.error(index, action, "streamlit_error", tab.page.locator(_ERROR_SELECTOR).first.inner_text())
        time.sleep(phase.think)
        return True

    try:
        if failed:
            phase.error(index, "session", "exception", failed)
            return
        loaded = load()
        phase.arrive()
        arrived = True
        if loaded:
            time.sleep(phase.think)
            _loop(phase, index, step, shown_province)
    except Exception as e:  # noqa: BLE001 - a reader that fails is an error of the run, not of the harness
        phase.error(index, "session", "exception", f"{type(e).__name__}: {e}")
    finally:
        if not arrived:
            phase.arrive()  # the others' run window must not wait for this reader
        try:
            if tab is not None:
                tab.close()
        finally:
            pw.stop()


_READERS = {"ws": _ws_reader, "browser": _browser_reader}


# -- one N ---------------------------------------------------------------------------------------------
def _run_phase(users: int, url: str, expect: dict, args: argparse.Namespace,
               sampler: Sampler) -> dict:
    phase = _Phase(users=users, url=url, expect=expect, think=args.think, duration=args.duration,
                   stagger=args.stagger, timeout_ms=int(args.timeout * 1000),
                   ready=threading.Barrier(users + 1))
    threads = [threading.Thread(target=_READERS[args.client], args=(phase, i), daemon=True) for i in range(users)]
    for thread in threads:
        thread.start()
    phase.ready.wait()  # every driver connected and every tab open before the clock starts
    load_before = os.getloadavg()[0]
    phase.t0 = time.monotonic()
    start = phase.t0 - sampler.t0
    phase.go.set()
    for thread in threads:
        thread.join()
    end = time.monotonic() - sampler.t0
    time.sleep(3)  # the sessions' closing, seen in the memory
    steady = start + (phase.steady or 0.0)  # on the sampler's clock
    before = [s for s in sampler.samples if s["t"] <= start]
    window = [r for r in phase.timings if r["action"] == "first_paint" or r["t"] >= (phase.steady or 0.0)]
    summary = summarise(users, window, phase.errors,
                        [s for s in sampler.samples if steady <= s["t"] <= end],
                        [s for s in sampler.samples if s["t"] > end])
    summary["arrival_s"] = round(phase.steady or 0.0, 1)
    # readers whose page ever drew: fewer than N when pages failed to boot (the run then measured fewer)
    summary["readers_active"] = len({r["reader"] for r in phase.timings if r["action"] == "first_paint"})
    summary["inputs_before_window"] = sum(r["t"] < (phase.steady or 0.0) for r in phase.timings
                                          if r["action"] != "first_paint")
    if before:
        summary["rss_before_mb"] = before[-1]["server_rss_mb"]
    summary["load_1min_before_after"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return {"users": users, "window_s": [round(steady, 2), round(end, 2)], "phase_start_s": round(start, 2),
            "timings": phase.timings, "errors": phase.errors, "summary": summary}


def summarise(users: int, timings: list[dict], errors: list[dict], samples: list[dict],
              after: list[dict] | None = None) -> dict:
    """Per N: inputs, errors (by kind), redraw median and 95th percentile (and, for ws readers, to
    the map element, and the kB received per input), the server's memory (start, end, largest,
    slope over the run and over its second half) and the mean CPU of each group."""
    redraws = [r["seconds"] for r in timings if r["action"] != "first_paint"]
    settled = [r["settled_seconds"] for r in timings if "settled_seconds" in r]
    maps = [r["map_seconds"] for r in timings if "map_seconds" in r and r["action"] != "first_paint"]
    received = [r["bytes"] / 1000 for r in timings if "bytes" in r and r["action"] != "first_paint"]
    paints = [r["seconds"] for r in timings if r["action"] == "first_paint"]
    out: dict = {"users": users, "inputs": len(redraws), "errors": len(errors), "first_paints": len(paints)}
    kinds: dict[str, int] = {}
    for e in errors:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    if kinds:
        out["errors_by_kind"] = kinds
    for name, values in (("redraw", redraws), ("settled", settled), ("map", maps), ("first_paint", paints)):
        if values:
            out[f"{name}_median_s"] = round(median(values), 3)
            out[f"{name}_p95_s"] = round(percentile(values, 95), 3)
            out[f"{name}_max_s"] = round(max(values), 3)
    if received:
        out["received_kb_median"] = round(median(received), 1)
        out["received_kb_max"] = round(max(received), 1)
    for action in sorted({r["action"] for r in timings} - {"first_paint"}):
        values = [r["seconds"] for r in timings if r["action"] == action]
        out[f"redraw_{action}_median_s"] = round(median(values), 3)
        out[f"redraw_{action}_p95_s"] = round(percentile(values, 95), 3)
    if samples:
        rss = [s["server_rss_mb"] for s in samples]
        times = [s["t"] for s in samples]
        half = len(samples) // 2
        out.update({"rss_start_mb": rss[0], "rss_end_mb": rss[-1], "rss_max_mb": max(rss),
                    "rss_slope_mb_per_min": round(slope_per_minute(times, rss), 2),
                    "rss_slope_second_half_mb_per_min": round(slope_per_minute(times[half:], rss[half:]), 2)})
        for name in ("server", "chromium", "drivers", "harness", "machine"):
            out[f"cpu_{name}_cores"] = round(statistics.fmean(s[f"cpu_{name}"] for s in samples), 2)
    if after:
        out["rss_after_close_mb"] = after[-1]["server_rss_mb"]
    return out


def _table(summaries: list[dict], info: dict) -> str:
    lines = [f"machine: {info.get('cpu', '?')}, {info.get('cores')} cores, {info.get('ram_gib')} GiB RAM, "
             f"load {info['load_1_5_15']} (before) {info.get('load_after', '')} (after); "
             f"readers: {info.get('client', '?')}",
             f"{'N':>3} {'act':>3} {'inputs':>6} {'err':>4} {'redraw med':>10} {'p95':>6} {'max':>6} {'map med':>7} "
             f"{'p95':>6} {'kB med':>6} {'paint med':>9} {'p95':>6} {'RSS start':>9} {'end':>6} {'max':>6} "
             f"{'MB/min':>7} {'2nd half':>8} {'CPU srv':>7} {'chrom':>6} {'drv':>5} {'harn':>5} {'machine':>7} "
             f"{'load 1 min':>10}"]
    for s in summaries:
        g = lambda k, f="{:.2f}": f.format(s[k]) if k in s else "-"  # noqa: E731
        load = s.get("load_1min_before_after")
        lines.append(f"{s['users']:>3} {s.get('readers_active', '-'):>3} {s['inputs']:>6} {s['errors']:>4} "
                     f"{g('redraw_median_s'):>10} {g('redraw_p95_s'):>6} {g('redraw_max_s'):>6} "
                     f"{g('map_median_s'):>7} {g('map_p95_s'):>6} {g('received_kb_median', '{:.0f}'):>6} "
                     f"{g('first_paint_median_s'):>9} "
                     f"{g('first_paint_p95_s'):>6} {g('rss_start_mb', '{:.0f}'):>9} {g('rss_end_mb', '{:.0f}'):>6} "
                     f"{g('rss_max_mb', '{:.0f}'):>6} {g('rss_slope_mb_per_min', '{:+.1f}'):>7} "
                     f"{g('rss_slope_second_half_mb_per_min', '{:+.1f}'):>8} {g('cpu_server_cores'):>7} "
                     f"{g('cpu_chromium_cores'):>6} {g('cpu_drivers_cores'):>5} {g('cpu_harness_cores'):>5} "
                     f"{g('cpu_machine_cores'):>7} {(f'{load[0]:.1f}->{load[1]:.1f}' if load else '-'):>10}")
    lines.append("act: readers whose page drew; times in s (redraw: input to the new map drawn, in a browser, or "
                 "to the run's end with the map received, for ws readers; map: to the map element); kB received "
                 f"per input; RSS of the server in MB; CPU in cores (mean over the run; the machine has "
                 f"{info.get('cores')}); harn: this process (the ws readers)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n\n")[0])

    def positive_int(text: str) -> int:
        value = int(text)
        if value < 1:
            raise argparse.ArgumentTypeError(f"{text}: at least 1")
        return value

    def positive(text: str) -> float:
        value = float(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text}: must be more than 0")
        return value

    def non_negative(text: str) -> float:
        value = float(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text}: must not be negative")
        return value

    parser.add_argument("--client", choices=sorted(_READERS), default="ws",
                        help="ws: sessions speaking Streamlit's websocket protocol, no browser (the server's "
                        "time; default); browser: one headless chromium per reader (what a reader waits for)")
    parser.add_argument("--users", type=positive_int, nargs="+", default=[1, 10, 30],
                        help="numbers of readers at once, one run each (default 1 10 30)")
    parser.add_argument("--duration", type=positive, default=60.0,
                        help="seconds each run lasts (inputs started by then are finished; default 60)")
    parser.add_argument("--runs", type=positive_int, default=1, help="runs of each N (default 1)")
    parser.add_argument("--think", type=non_negative, default=1.0,
                        help="seconds a reader waits after each redraw (default 1)")
    parser.add_argument("--stagger", type=non_negative, default=0.5,
                        help="seconds between the readers' arrivals (default 0.5)")
    parser.add_argument("--timeout", type=positive, default=30.0,
                        help="seconds after which a redraw counts as an error (default 30)")
    parser.add_argument("--warmup", type=non_negative, default=20.0,
                        help="seconds one reader uses the app before the runs, unreported (default 20; 0: none)")
    parser.add_argument("--cache", type=Path, help="cache folder to build the demo store in and keep "
                        "(default: a temporary one, removed afterwards)")
    parser.add_argument("--out", type=Path, help="JSON file (default benchmarks/results/load-<date>.json)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.client == "browser" and not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} is missing (./dev chromium installs Debian's chromium)")
    info = {**machine(), "client": args.client}
    runs: list[dict] = []
    warmup: dict | None = None
    with tempfile.TemporaryDirectory(prefix="vnbb-load-") as tmp:
        env, store_path = demo_server_env(args.cache or Path(tmp) / "cache")
        expect = expectations(store_path)
        log = Path(tmp) / "server.log"
        with server(env, log) as (url, _):
            sampler = Sampler(_server_pid(url), time.monotonic())
            sampler.start()
            try:
                if args.warmup:  # the server's caches filled by one reader first: not reported
                    print(f"warm-up: 1 reader ({args.client}), {args.warmup:g} s ...", flush=True)
                    quick = argparse.Namespace(**{**vars(args), "duration": args.warmup})
                    warmup = _run_phase(1, url, expect, quick, sampler)
                for users in args.users:
                    for run in range(args.runs):
                        print(f"N = {users} (run {run + 1} of {args.runs}, {args.client}) ...", flush=True)
                        runs.append(_run_phase(users, url, expect, args, sampler))
                        now = {**info, "load_1_5_15": [round(x, 2) for x in os.getloadavg()]}
                        print(_table([runs[-1]["summary"]], now), flush=True)
            finally:
                sampler.stop()
    info["load_after"] = [round(x, 2) for x in os.getloadavg()]
    summaries = [r["summary"] for r in runs]
    print(_table(summaries, info))
    payload = {"date": dt.datetime.now().isoformat(timespec="seconds"), "machine": info,
               "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "definitions": __doc__, "summary": summaries, "runs": runs, "warmup": warmup,
               "samples": sampler.samples}
    suffix = "-ws" if args.client == "ws" else ""
    out = args.out or RESULTS / f"load-{dt.date.today().isoformat()}{suffix}.json"
    _write(out, payload)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
