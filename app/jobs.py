"""Imports from the data page run in a background thread, not in the page script.

A Streamlit script run stops whenever the reader clicks something; an import run inside it
would be cut off half-way. In a thread it runs to the end while the reader keeps using the
app on the previous results (the store swaps atomically once the new one is complete), and
the data page polls the job for its steps. One job per scenario at a time; every session sees
the scenario's latest job. No Streamlit here.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from coverage import imports
from geodata.errors import VnbbError

_LOCK = threading.Lock()
_JOBS: dict[str, ImportJob] = {}


class ImportBusy(VnbbError):
    """Another import into the same scenario is still running."""


@dataclass
class ImportJob:
    """One import and rebuild: its steps as they happen, then its outcome."""

    scenario: Path
    store: Path
    name: str                 # the file's name as uploaded
    kind: str
    steps: list[str] = field(default_factory=list)
    state: str = "running"    # running | done | unchanged | refused | failed
    result: imports.ImportResult | None = None
    error: str = ""
    before: dict | None = None
    after: dict | None = None
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"


def figures(store: Path | str) -> dict:
    """National headline figures of a store (63-unit scheme, any network, all operators)."""
    store = Path(store)
    national = json.loads((store / "national.json").read_text(encoding="utf-8"))["63"]
    manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
    return {"households": national["households"], "households_covered": national["hh_cov__any__all"],
            "households_pct": national["hh_pct__any__all"], "villages": national["villages"],
            "villages_covered": national["cov__any__all"], "villages_pct": national["vil_pct__any__all"],
            "built_at": manifest.get("built_at", "")}


def latest(scenario: Path | str) -> ImportJob | None:
    """The scenario's running or last finished import, if any since the app started."""
    with _LOCK:
        return _JOBS.get(str(Path(scenario).absolute()))


def start(scenario: Path | str, store: Path | str, upload: Path, kind: str, entry: dict, name: str,
          data_dir: Path | None) -> ImportJob:
    """Start importing ``upload`` (a file the job owns and removes when done) into ``scenario``
    and rebuilding ``store``; raises :class:`ImportBusy` when one is already running."""
    key = str(Path(scenario).absolute())
    with _LOCK:
        current = _JOBS.get(key)
        if current is not None and current.running:
            raise ImportBusy(f"an import of {current.name} into {scenario} is still running")
        job = ImportJob(Path(scenario), Path(store), name, kind)
        _JOBS[key] = job
    threading.Thread(target=_run, args=(job, upload, dict(entry), data_dir), name=f"vnbb-import-{name}",
                     daemon=True).start()
    return job


def _register(job: ImportJob) -> None:
    """Keep the rebuilt results as a dated snapshot too (a build becomes a snapshot); a database
    problem is reported as a step, the import itself has succeeded."""
    from coverage import snapshots

    try:
        snap = snapshots.register(job.store, actor=f"app import of {job.name}")
        job.steps.append(f"snapshot {snap.as_of} of {snap.series} registered")
    except VnbbError as exc:
        job.steps.append(f"snapshot not registered: {exc}")


def _run(job: ImportJob, upload: Path, entry: dict, data_dir: Path | None) -> None:
    try:
        job.before = figures(job.store)
        result = imports.import_file(job.scenario, upload, job.kind, entry=entry, store=job.store,
                                     data_dir=data_dir, progress=job.steps.append, source_name=job.name)
        job.result = result
        if not result.ok:
            job.state = "refused"
        elif result.unchanged:
            job.state = "unchanged"
        else:
            job.after = figures(job.store)
            _register(job)
            job.state = "done"
    except Exception as exc:  # noqa: BLE001 - shown on the page; the scenario and store are unchanged
        job.error = str(exc).split("\n", 1)[0] or type(exc).__name__
        job.state = "failed"
    finally:
        job.finished_at = time.time()
        shutil.rmtree(upload.parent, ignore_errors=True)
