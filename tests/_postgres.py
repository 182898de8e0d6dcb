"""A throwaway PostgreSQL server for the tests: Debian's binaries, a fresh cluster in a temporary
folder, listening on 127.0.0.1 only, stopped at the end of the run.

``./dev test`` installs the server (and PostGIS) with apt when missing. Where the server cannot
start, :func:`start` returns the reason, and the PostgreSQL half of the database tests is
skipped with it (under CI it fails instead, like the browser tests).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Server:
    bin: Path
    folder: Path
    port: int
    as_user: list[str]

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://vnbb@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://vnbb@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "stop",
                        "-m", "immediate"], capture_output=True, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start() -> Server | str:
    """Start a server in a new folder under the system's temporary folder (reachable by the
    postgres user, unlike pytest's private one); the Server, or why it could not start."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        return "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin); `./dev test` installs them with apt"
    bin_dir = Path(found[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="vnbb-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: run it as the postgres user
        runuser = shutil.which("runuser")
        if runuser is None:
            return "running as root without runuser: cannot start PostgreSQL as another user"
        as_user = [runuser, "-u", "postgres", "--"]
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    port = _free_port()
    steps = [
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "vnbb", "-A", "trust", "-E", "UTF8",
         "--no-sync"],
        [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "60",
         "-o", f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off -c full_page_writes=off", "start"],
    ]
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = (folder / "server.log").read_text(errors="replace")[-800:] if (folder / "server.log").exists() else ""
            return f"`{' '.join(cmd[len(as_user):][:2])}` failed: {done.stderr.strip()[-800:]} {log}".strip()
    return Server(bin_dir, folder, port, as_user)
