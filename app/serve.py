"""Start the app's server warm: ``vnbb app [streamlit options]`` (what ``./dev app`` runs).

``streamlit run`` imports the app's modules and fills its data caches only when the first reader
arrives, so that reader waits about two seconds more than every later one. This launcher runs
``streamlit run streamlit_app.py`` as a child process and, as soon as the server answers, asks it
to run the script once for nobody (Streamlit's script health check, the readiness probe a
deployment would use): imports and caches are then warm before anyone opens the page.
``streamlit run streamlit_app.py`` still works as before, only without the warm-up.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "streamlit_app.py"
_HEALTH_FLAG = "--server.scriptHealthCheckEnabled"
# Streamlit prints "Local URL: http://localhost:8501" (or "URL: http://ADDRESS:PORT" when an
# address is set), with the base path if one is set: the URL to warm, whatever set the port.
_URL = re.compile(r"\bURL:\s*(https?://\S+)")
_URL_WAIT_S = 120.0
_WARM_TIMEOUT_S = 300.0


def command(args: Sequence[str]) -> list[str]:
    """The ``streamlit run`` command line, with the script health check on unless ``args`` set it."""
    extra = list(args)
    if not any(a == _HEALTH_FLAG or a.startswith(_HEALTH_FLAG + "=") for a in extra):
        extra.append(f"{_HEALTH_FLAG}=true")
    return [sys.executable, "-m", "streamlit", "run", str(SCRIPT), *extra]


def warm(url: str, timeout: float = _WARM_TIMEOUT_S) -> float:
    """Run the app's script once on the server at ``url`` (its script health check); the seconds
    it took. Raises ``OSError`` when the server cannot run it."""
    started = time.perf_counter()
    with urllib.request.urlopen(f"{url.rstrip('/')}/_stcore/script-health-check", timeout=timeout) as r:
        r.read()
    return time.perf_counter() - started


def _relay(stream: IO[str], found: threading.Event, box: list[str]) -> None:
    """Echo the server's output as it comes, noting the first URL it prints."""
    for line in stream:
        sys.stdout.write(line)
        sys.stdout.flush()
        if not found.is_set():
            match = _URL.search(line)
            if match:
                box.append(match.group(1))
                found.set()


def _warm_when_up(found: threading.Event, box: list[str], proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + _URL_WAIT_S
    while not found.wait(0.2):
        if proc.poll() is not None:  # it failed to start: its own message says why
            return
        if time.monotonic() > deadline:
            break
    if not found.is_set():
        print("vnbb: the server printed no URL; the app was not warmed up (its first reader waits longer)",
              file=sys.stderr, flush=True)
        return
    try:
        seconds = warm(box[0])
    except OSError as exc:
        if proc.poll() is None:
            print(f"vnbb: warming up the app failed ({exc}); it still serves, its first reader waits longer",
                  file=sys.stderr, flush=True)
        return
    print(f"vnbb: app warmed up in {seconds:.1f} s: imports and data caches are ready for the first reader",
          flush=True)


def serve(args: Sequence[str] = ()) -> int:
    """Run the server until it stops (Ctrl+C or SIGTERM stops it too); its exit status."""
    proc = subprocess.Popen(command(args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    found, box = threading.Event(), []
    assert proc.stdout is not None
    relay = threading.Thread(target=_relay, args=(proc.stdout, found, box), daemon=True)
    relay.start()
    threading.Thread(target=_warm_when_up, args=(found, box, proc), daemon=True).start()

    def _stop(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        while True:
            try:
                code = proc.wait()
                break
            except KeyboardInterrupt:  # the child got the same Ctrl+C; let it shut down cleanly
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)
    relay.join(timeout=5)
    return code
