"""`vnbb app`: the server started warm (its first reader does not pay for imports and caches)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app import serve

pytestmark = pytest.mark.slow


def test_the_script_health_check_is_switched_on_unless_the_caller_set_it() -> None:
    cmd = serve.command(["--server.port=9999"])
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("streamlit_app.py")
    assert cmd[-2:] == ["--server.port=9999", "--server.scriptHealthCheckEnabled=true"]
    kept = serve.command(["--server.scriptHealthCheckEnabled=false"])
    assert kept.count("--server.scriptHealthCheckEnabled=false") == 1
    assert not any(a.endswith("=true") for a in kept)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(port: int, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "app", "--server.headless=true", f"--server.port={port}",
         "--server.address=127.0.0.1", "--browser.gatherUsageStats=false", "--server.fileWatcherType=none"],
        cwd=serve.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _lines_until(proc: subprocess.Popen, needle: str, timeout: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} not printed; the server printed:\n{''.join(seen)}")


def test_vnbb_app_serves_the_app_warm_and_stops_on_sigterm(demo_store: Path) -> None:
    port = _free_port()
    env = {**os.environ, "VNBB_STORE": str(demo_store)}
    proc = _start(port, env)
    try:
        out = _lines_until(proc, "app warmed up in", timeout=240)
        assert any(f"http://127.0.0.1:{port}" in line for line in out)  # the server's own output relayed
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=10) as r:
            assert r.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0
    with pytest.raises(OSError):  # the streamlit child went with it
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)


def test_a_server_that_cannot_start_ends_vnbb_app_with_its_failure(demo_store: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _start(port, {**os.environ, "VNBB_STORE": str(demo_store)})
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0, out
    assert "warmed up" not in out and "not warmed" not in out
