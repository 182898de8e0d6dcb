"""The app under load: N readers at once, each switching indicators and provinces in a real browser.

``python -m benchmarks.load --users 1 10 30 [--duration 60] [--runs 1]`` (with ``VNBB_DATA_DIR``
set, as for the tests) starts one ``streamlit run streamlit_app.py`` with the demo store (built
into a private cache folder first, as :mod:`benchmarks.app` does) and, for each N, opens N pages
of the app at once (started ``--stagger`` seconds apart) in one headless chromium
(``/usr/bin/chromium``, every host but this machine unresolvable). Each page loops, with
``--think`` seconds between inputs, until ``--duration`` seconds have passed since the last reader
arrived (its first paint drawn: N pages booting Streamlit's front end at once take a while on
two cores, so the run's window starts when all N are in; inputs before it are kept in the JSON
but not in the figures):

1. indicator households -> villages, then back (national page);
2. the province page opened (its current province: measured from the second loop on);
3. another province chosen in the province page's list (each reader walks the provinces from
   its own starting point);
4. back to the national page.

Before the runs, one reader uses the app for ``--warmup`` seconds (unreported: the server's
caches filled, as after its first readers). Every input is timed as :mod:`benchmarks.app` times
a switch (its ``Tab``, its page script): from the reader's input to the new map drawn with the
expected shapes (*redraw*) and to Streamlit's run finished (*settled*). Errors are exceptions
thrown in a page, Streamlit error elements on it, and waits longer than ``--timeout`` seconds
(the page is then reloaded and the reader goes on). Every second the server process (its
children included) is sampled: resident memory (``VmRSS``) and CPU time, and the CPU time of the
chromium processes, of the Playwright drivers and of the whole machine, to tell what the two
cores are spent on.

Why one headless chromium per reader, each driven by its own thread and Playwright driver: the
synchronous ``Tab`` of :mod:`benchmarks.app` serves unchanged, every reader runs Streamlit's real
front end (its websocket protocol, the map component's frame, Leaflet), and the readers share
nothing but the server. (N pages in one browser shared over CDP was tried first: every driver
then receives every page's events, websocket frames included, so the harness's own CPU grows
as N squared and swamped the two cores; 10 readers measured the harness, not the app.) An idle
chromium costs memory, not CPU; the drivers idle while the pages poll. The browsers still
compete with the server for the same cores: the CPU split says by how much. On a 2-core machine
30 chromiums booting Streamlit's front end at once do not all get their first paint within the
first-paint timeout (``act`` in the table: readers whose page drew); driving the websocket
protocol directly would be the way to load the server with more readers than the machine can
render.

Not part of the test suite. Results: a table on stdout and ``benchmarks/results/load-<date>.json``
with the machine (cores, RAM, load before and after), every timed input, every error and every
sample.
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


# -- one reader --------------------------------------------------------------------------------------
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


def _reader(phase: _Phase, index: int) -> None:
    """One reader's session, in its own thread with its own Playwright driver."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    from app.i18n import tr

    t = lambda key: tr(key, LANG)  # noqa: E731
    nat, prov, names = phase.expect["national"], phase.expect["province"]["63"], phase.expect["names"]["63"]
    codes = sorted(c for c in prov if prov[c]["polygons"])
    walk = [codes[(index * 7 + 3 * k) % len(codes)] for k in range(len(codes))]
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

    def error(action: str, kind: str, message: str) -> None:
        phase.record(phase.errors, {"reader": index, "action": action, "t": round(phase.now(), 2), "kind": kind,
                                    "message": message[:500]})

    def load() -> bool:
        at = phase.now()
        tab.timeout_ms = max(phase.timeout_ms, _FIRST_PAINT_TIMEOUT_MS)  # N pages booting at once
        try:
            result = tab.load(nat[("63", "households")])
        except PlaywrightError as e:
            error("first_paint", "timeout" if "Timeout" in str(e) else "exception", str(e))
            return False
        finally:
            tab.timeout_ms = phase.timeout_ms
        phase.record(phase.timings, {"reader": index, "action": "first_paint", "t": round(at, 2),
                                     "seconds": result["seconds"]})
        return True

    def step(action: str, act, expect: dict | None) -> bool:  # noqa: ANN001
        """One input, timed when ``expect`` says what it draws, then the think time. False when
        the run is over or the input failed (the page is then reloaded: a new session)."""
        if phase.over():
            return False
        at = phase.now()
        seen = len(page_errors)
        try:
            if expect is None:
                act()
                tab.page.wait_for_function("() => window.__vnbb.maps().length > 0", polling=POLL_MS,
                                           timeout=phase.timeout_ms)
                tab.settle(0)
            else:
                result = tab.switch(act, expect)
                phase.record(phase.timings, {"reader": index, "action": action, "t": round(at, 2),
                                             "seconds": result["seconds"],
                                             "settled_seconds": result["settled_seconds"]})
            shown = tab.page.locator(_ERROR_SELECTOR).count()
        except (PlaywrightError, RuntimeError) as e:
            error(action, "timeout" if "Timeout" in str(e) else "exception", str(e))
            if load():
                time.sleep(phase.think)
            return False
        for message in page_errors[seen:]:
            error(action, "page_error", message)
        if shown:
            error(action, "streamlit_error", tab.page.locator(_ERROR_SELECTOR).first.inner_text())
        time.sleep(phase.think)
        return True

    def shown_province() -> str | None:
        """The province the province page opened on (the first of its list for a new session)."""
        box = tab.page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(
            has=tab.page.get_by_test_id("stWidgetLabel").get_by_text(t("province.label"), exact=True))
        lines = set(box.inner_text().splitlines())
        return next((code for code in codes if names[code] in lines), None)

    try:
        if failed:
            error("session", "exception", failed)
            return
        loaded = load()
        phase.arrive()
        arrived = True
        if not loaded:
            return
        time.sleep(phase.think)
        loop, province = 0, None
        while not phase.over():
            if not (step("indicator", lambda: tab.sidebar_select(t("indicator.label"), t("indicator.villages")),
                         nat[("63", "villages")])
                    and step("indicator", lambda: tab.sidebar_select(t("indicator.label"),
                                                                     t("indicator.households")),
                             nat[("63", "households")])
                    and step("open_province_page", lambda: tab.sidebar_option(t("view.province")),
                             prov[province] if province else None)):
                province = None  # reloaded, or the run is over
                continue
            if province is None:
                province = shown_province()
            loop += 1
            chosen = next(c for c in walk[loop % len(walk):] + walk if c != province)
            if not (step("province", lambda: tab.sidebar_select(t("province.label"), names[chosen], type_text=True),
                         prov[chosen])
                    and step("national", lambda: tab.sidebar_option(t("view.national")), nat[("63", "households")])):
                province = None
                continue
            province = chosen
    except Exception as e:  # noqa: BLE001 - a reader that fails is an error of the run, not of the harness
        error("session", "exception", f"{type(e).__name__}: {e}")
    finally:
        if not arrived:
            phase.arrive()  # the others' run window must not wait for this reader
        try:
            if tab is not None:
                tab.close()
        finally:
            pw.stop()


# -- one N ---------------------------------------------------------------------------------------------
def _run_phase(users: int, url: str, expect: dict, args: argparse.Namespace,
               sampler: Sampler) -> dict:
    phase = _Phase(users=users, url=url, expect=expect, think=args.think, duration=args.duration,
                   stagger=args.stagger, timeout_ms=int(args.timeout * 1000),
                   ready=threading.Barrier(users + 1))
    threads = [threading.Thread(target=_reader, args=(phase, i), daemon=True) for i in range(users)]
    for thread in threads:
        thread.start()
    phase.ready.wait()  # every driver connected and every tab open before the clock starts
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
    return {"users": users, "window_s": [round(steady, 2), round(end, 2)], "phase_start_s": round(start, 2),
            "timings": phase.timings, "errors": phase.errors, "summary": summary}


def summarise(users: int, timings: list[dict], errors: list[dict], samples: list[dict],
              after: list[dict] | None = None) -> dict:
    """Per N: inputs, errors, redraw median and 95th percentile, the server's memory (start, end,
    largest, slope over the run and over its second half) and the mean CPU of each group."""
    redraws = [r["seconds"] for r in timings if r["action"] != "first_paint"]
    settled = [r["settled_seconds"] for r in timings if "settled_seconds" in r]
    paints = [r["seconds"] for r in timings if r["action"] == "first_paint"]
    out: dict = {"users": users, "inputs": len(redraws), "errors": len(errors), "first_paints": len(paints)}
    for name, values in (("redraw", redraws), ("settled", settled), ("first_paint", paints)):
        if values:
            out[f"{name}_median_s"] = round(median(values), 3)
            out[f"{name}_p95_s"] = round(percentile(values, 95), 3)
            out[f"{name}_max_s"] = round(max(values), 3)
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
             f"load {info['load_1_5_15']} (before) {info.get('load_after', '')} (after)",
             f"{'N':>3} {'act':>3} {'inputs':>6} {'err':>4} {'redraw med':>10} {'p95':>6} {'max':>6} {'paint med':>9} "
             f"{'p95':>6} {'RSS start':>9} {'end':>6} {'max':>6} {'MB/min':>7} {'2nd half':>8} "
             f"{'CPU srv':>7} {'chrom':>6} {'drv':>5} {'machine':>7}"]
    for s in summaries:
        g = lambda k, f="{:.2f}": f.format(s[k]) if k in s else "-"  # noqa: E731
        lines.append(f"{s['users']:>3} {s.get('readers_active', '-'):>3} {s['inputs']:>6} {s['errors']:>4} "
                     f"{g('redraw_median_s'):>10} "
                     f"{g('redraw_p95_s'):>6} {g('redraw_max_s'):>6} {g('first_paint_median_s'):>9} "
                     f"{g('first_paint_p95_s'):>6} {g('rss_start_mb', '{:.0f}'):>9} {g('rss_end_mb', '{:.0f}'):>6} "
                     f"{g('rss_max_mb', '{:.0f}'):>6} {g('rss_slope_mb_per_min', '{:+.1f}'):>7} "
                     f"{g('rss_slope_second_half_mb_per_min', '{:+.1f}'):>8} {g('cpu_server_cores'):>7} "
                     f"{g('cpu_chromium_cores'):>6} {g('cpu_drivers_cores'):>5} {g('cpu_machine_cores'):>7}")
    lines.append("act: readers whose page drew; times in s (redraw: input to the new map drawn); RSS of the "
                 f"server in MB; CPU in cores (mean over the run; the machine has {info.get('cores')})")
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
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} is missing (./dev chromium installs Debian's chromium)")
    info = machine()
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
                    print(f"warm-up: 1 reader, {args.warmup:g} s ...", flush=True)
                    quick = argparse.Namespace(**{**vars(args), "duration": args.warmup})
                    warmup = _run_phase(1, url, expect, quick, sampler)
                for users in args.users:
                    for run in range(args.runs):
                        print(f"N = {users} (run {run + 1} of {args.runs}) ...", flush=True)
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
    out = args.out or RESULTS / f"load-{dt.date.today().isoformat()}.json"
    _write(out, payload)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
