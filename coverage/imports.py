"""Importing a file into a scenario: every import adds a new version, and nothing is ever lost.

A versioned scenario ``S`` is a symbolic link to its current version folder ``S.versions/NNNN``
(each a complete scenario folder), with a record ``S.versions/NNNN.json`` per version: when it
was made, which input it changed, that file's SHA-256 and the name it was sent under. Readers
(``vnbb build``, the app) keep using ``S`` as before. A plain scenario folder becomes version 1
of its own history at its first import.

An import:

1. validates the file as its kind (:func:`coverage.scenario.validate_file`, the checks ``vnbb
   validate`` and ``vnbb build`` run), and refuses it with the report when it has problems;
2. writes the new version beside the others: the current version's files, the new file in place
   of the input it replaces, scenario.toml updated where needed (its sources entry, the
   ``[[coverage]]`` or ``[population]`` table);
3. checks the whole new version (a new households table must still hold the villages) and, when
   a results store is given, builds the store from it (the store swaps atomically itself);
4. only then records the version and repoints ``S`` at it, with one atomic rename.

A refused file, a failed check or a failed build removes what step 2 wrote: the scenario, its
versions and the store stay byte-identical. Importing a file identical to the current input
adds no version.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from coverage import _toml
from coverage._tables import TABLE_SUFFIXES
from coverage.scenario import ValidationReport, _sha256, load_scenario, validate_file
from geodata.errors import DataFileError, ScenarioImportError
from geodata.registry import Registry, load_registry

Progress = Callable[[str], None]

TABLE_KINDS = ("households", "villages", "sites", "fixed")
COVERAGE_KINDS = {"coverage-raster": "raster", "footprint": "footprint", "opencellid": "opencellid",
                  "ookla": "ookla"}  # import kind -> [[coverage]] kind
IMPORT_KINDS = (*TABLE_KINDS, *COVERAGE_KINDS, "population")
# What an input is, when the sender does not say (the engine's own defaults for each layer).
DEFAULT_PROVENANCE = {"households": "declared", "villages": "declared", "sites": "modelled", "fixed": "declared",
                      "coverage-raster": "modelled", "footprint": "declared", "opencellid": "modelled",
                      "ookla": "measured", "population": "modelled"}
SOURCE_FIELDS = ("provenance", "as_of", "citation", "note")
_VERSIONS_SUFFIX = ".versions"
_INITIAL = "initial"


@dataclass(frozen=True)
class Version:
    """One version of a scenario (see the module docstring)."""

    number: int
    created_at: str
    kind: str                 # the import kind, or "initial" for the folder as it was first
    file: str | None          # the input it changed (path inside the scenario)
    sha256: str | None        # of that file
    source: str | None        # the name the file was sent under
    path: Path
    current: bool = False
    store: str | None = None
    built_at: str | None = None

    def describe(self) -> str:
        """One line for a listing."""
        what = ("the folder as it was before the first import" if self.kind == _INITIAL
                else f"{self.kind} {self.file}")
        sent = f" (from {self.source})" if self.source and self.source != Path(self.file or "").name else ""
        digest = f" sha256 {self.sha256}" if self.sha256 else ""
        return f"{self.number:>4}{' *' if self.current else '  '} {self.created_at}  {what}{sent}{digest}"


@dataclass
class ImportResult:
    """What an import did: the report, and the new version (None when refused or unchanged)."""

    report: ValidationReport
    version: Version | None = None
    store: Path | None = None
    unchanged: bool = False
    steps: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.report.ok


# -- versions -----------------------------------------------------------------------------------
def versions_dir(scenario: Path | str) -> Path:
    """Where the versions of ``scenario`` are kept (beside it)."""
    scenario = Path(scenario).absolute()
    return scenario.with_name(scenario.name + _VERSIONS_SUFFIX)


def is_versioned(scenario: Path | str) -> bool:
    """Whether ``scenario`` is a link to one of its versions (it has had an import)."""
    scenario = Path(scenario).absolute()
    return scenario.is_symlink() and scenario.resolve().parent == versions_dir(scenario).resolve()


def scenario_of(folder: Path | str) -> Path:
    """The scenario a folder is a version of (what a store's manifest records is the version
    folder it was built from), or the folder itself when it is not a version."""
    folder = Path(folder)
    parent = folder.parent
    if parent.name.endswith(_VERSIONS_SUFFIX) and folder.name.isdigit():
        scenario = parent.with_name(parent.name[: -len(_VERSIONS_SUFFIX)])
        if is_versioned(scenario):
            return scenario
    return folder


def versions(scenario: Path | str) -> list[Version]:
    """Every recorded version of a scenario, oldest first (empty for a never-imported folder)."""
    scenario = Path(scenario).absolute()
    if not is_versioned(scenario):
        return []
    folder = versions_dir(scenario)
    current = scenario.resolve().name
    out = []
    for record in sorted(folder.glob("[0-9]*.json")):
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        path = folder / record.stem
        if not path.is_dir():
            continue
        out.append(Version(number=int(data["number"]), created_at=str(data.get("created_at", "")),
                           kind=str(data.get("kind", "")), file=data.get("file"), sha256=data.get("sha256"),
                           source=data.get("source"), path=path, current=record.stem == current,
                           store=data.get("store"), built_at=data.get("built_at")))
    return sorted(out, key=lambda v: v.number)


def current_version(scenario: Path | str) -> Version | None:
    """The version ``scenario`` points at (None for a never-imported folder)."""
    return next((v for v in versions(scenario) if v.current), None)


# -- importing ----------------------------------------------------------------------------------
def import_file(scenario: Path | str, file: Path | str, kind: str, *, entry: dict | None = None,
                store: Path | str | None = None, data_dir: Path | str | None = None,
                registry: Registry | None = None, progress: Progress | None = None,
                source_name: str | None = None) -> ImportResult:
    """Import ``file`` as ``kind`` into ``scenario`` (see the module docstring); the result says
    whether it was refused (with the report), unchanged, or which version it made.

    ``entry`` holds the input's description: ``provenance``, ``as_of``, ``citation``, ``note``
    for any kind; for coverage kinds also the ``[[coverage]]`` fields (``operator``,
    ``technology``, ``threshold``, ``crs``, ``min_download_mbps``, ``min_tests``, ``radii``).
    ``store``: build this results store from the new version before switching to it.
    ``source_name``: the name the file was sent under (an upload's own name).
    """
    if kind not in IMPORT_KINDS:
        raise ScenarioImportError(f"kind must be one of {', '.join(IMPORT_KINDS)}, not {kind!r}"
                           + ("; boundaries are reference data: put them in the data folder (VNBB_DATA_DIR)"
                              if kind == "boundaries" else ""))
    scenario, file = Path(scenario).absolute(), Path(file)
    entry = dict(entry or {})
    source_name = source_name or file.name
    steps: list[str] = []

    def say(message: str) -> None:
        steps.append(message)
        if progress:
            progress(message)

    _check_scenario(scenario)
    _check_file_type(file, kind, source_name)
    registry = registry or load_registry(data_dir)
    say(f"checking {source_name} as {kind}")
    report = validate_file(file, kind, registry, crs=entry.get("crs"),
                           scenario=scenario if kind in ("villages", "fixed") else None)
    report.shown_as(str(file), source_name)
    if not report.ok:
        return ImportResult(report, steps=steps)
    with _locked(scenario):
        current = scenario.resolve()
        number = _next_number(scenario)
        folders = versions_dir(scenario)
        created = not folders.exists()
        folders.mkdir(exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".import-", dir=folders))
        target = folders / f"{number:04d}"
        try:
            plan = _plan(current, file, kind, entry, source_name)
            if _unchanged(plan, current, file, entry):
                say("the file is identical to the current input: nothing to import")
                _discard(staging, folders if created else None)
                return ImportResult(report, unchanged=True, steps=steps)
            say(f"writing version {number} of {scenario.name}")
            _write_version(plan, kind, current, staging, file)
            changed = plan.changed
            os.replace(staging, target)
            built = None
            if store is not None:
                built = _build(target, Path(store), data_dir, say)
            else:
                say("checking the whole scenario")
                load_scenario(target, registry)
        except DataFileError as exc:
            _discard(staging, None)
            _discard(target, folders if created else None)
            return ImportResult(_refusal(exc, kind, target, scenario), steps=steps)
        except BaseException:
            _discard(staging, None)
            _discard(target, folders if created else None)
            raise
        version = _record(scenario, number, kind, changed, target, source_name, built)
        _repoint(scenario, target, created)
        _clean_abandoned(folders, scenario)
        say(f"{scenario.name} is now version {number}")
    return ImportResult(report, version=version, store=built, steps=steps)


def _check_scenario(scenario: Path) -> None:
    if not (scenario / "scenario.toml").is_file():
        raise ScenarioImportError(f"{scenario} is not a scenario folder (no scenario.toml); write one first, e.g. "
                           "with `vnbb demo --out FOLDER`.")
    if scenario.is_symlink() and not is_versioned(scenario):
        raise ScenarioImportError(f"{scenario} is a link to {scenario.resolve()}; import into that folder instead.")


def _check_file_type(file: Path, kind: str, name: str) -> None:
    suffix = Path(name).suffix.lower() or file.suffix.lower()
    if kind in TABLE_KINDS and suffix not in TABLE_SUFFIXES:
        raise ScenarioImportError(f"{name}: a {kind} table must be one of {', '.join(TABLE_SUFFIXES)}, not "
                                  f"{suffix or 'a file without an extension'}.")
    if kind == "footprint" and suffix == ".shp":
        raise ScenarioImportError(f"{name}: a shapefile is several files; zip the .shp with its .shx, .dbf and .prj "
                           "and import the zip.")


@contextmanager
def _locked(scenario: Path) -> Iterator[None]:
    """One import at a time per folder of scenarios (a lock on the parent folder: no lock file
    left behind, so a refused import changes nothing on disk)."""
    fd = os.open(scenario.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _next_number(scenario: Path) -> int:
    folder = versions_dir(scenario)
    taken = [int(p.stem) for p in folder.glob("[0-9]*") if p.stem.isdigit()] if folder.is_dir() else []
    return max(taken, default=1 if not is_versioned(scenario) else 0) + 1


def _meta(folder: Path) -> dict:
    path = folder / "scenario.toml"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DataFileError(path, f"cannot be read as TOML ({exc}).") from exc


@dataclass
class _Plan:
    """What a new version changes: the input's new path, the files it drops, the new scenario.toml
    contents, and the replaced input with its description (to tell an identical import)."""

    changed: str
    drop: set[str]
    meta: dict
    meta_changed: bool
    old_file: str | None
    old_description: dict


def _plan(current: Path, file: Path, kind: str, entry: dict, source_name: str) -> _Plan:
    meta = _meta(current)
    before = json.dumps(meta, sort_keys=True, default=str)
    suffix = Path(source_name).suffix.lower() or file.suffix.lower()
    sources = {s.get("file"): s for s in meta.get("sources", [])}
    if kind in TABLE_KINDS:
        changed = f"{kind}{suffix}"
        replaced = sorted(f"{kind}{s}" for s in TABLE_SUFFIXES if (current / f"{kind}{s}").is_file())
        old_file = replaced[0] if replaced else None
        old_description = sources.get(old_file, {})
    elif kind == "population":
        old = dict(meta.get("population", {}))
        old_file = old.get("file")
        replaced = [old_file] if old_file else []
        changed = _free_name(current, f"population/{Path(source_name).name}", set(replaced))
        meta["population"] = {**{k: v for k, v in old.items() if k not in ("file", *SOURCE_FIELDS)},
                              "file": changed, **_described(entry, kind)}
        old_description = {**sources.get(old_file, {}), **old}
    else:
        changed, replaced, old_description = _update_coverage(meta, current, kind, entry, source_name)
        old_file = replaced[0] if replaced else None
    _update_source(meta, replaced, changed, kind, entry, source_name)
    drop = {d for d in (*replaced, *([f"{kind}{s}" for s in TABLE_SUFFIXES] if kind in TABLE_KINDS else []))
            if d != changed and not _still_used(meta, d)}
    meta_changed = json.dumps(meta, sort_keys=True, default=str) != before
    return _Plan(changed, drop, meta, meta_changed, old_file, old_description)


def _unchanged(plan: _Plan, current: Path, file: Path, entry: dict) -> bool:
    """The same bytes as the input it would replace, described the same: nothing to import."""
    if plan.old_file is None or plan.old_file != plan.changed or not (current / plan.old_file).is_file():
        return False
    if _sha256(current / plan.old_file) != _sha256(file):
        return False
    given = {k: v for k, v in entry.items() if v not in (None, "")}
    return all(str(plan.old_description.get(k)) == str(v) for k, v in given.items())


def _write_version(plan: _Plan, kind: str, current: Path, staging: Path, file: Path) -> None:
    """The current version's files into ``staging``, with the new file in its place."""
    shutil.copytree(current, staging, dirs_exist_ok=True, symlinks=False,
                    ignore=_ignoring(current, plan.drop | {plan.changed}))
    target = staging / plan.changed
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(file, target)
    if plan.meta_changed:
        header = (f"Written by vnbb import ({dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {kind} "
                  f"{plan.changed}).\nComments of the earlier versions' scenario.toml are kept in those versions.")
        tmp = staging / ".scenario.toml.tmp"
        tmp.write_text(_toml.dumps(plan.meta, header), encoding="utf-8")
        os.replace(tmp, staging / "scenario.toml")
    for folder in sorted((p for p in staging.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()  # a coverage/ folder whose only file was replaced
    staging.chmod(0o755)


def _ignoring(root: Path, names: set[str]) -> Callable[[str, list[str]], set[str]]:
    def ignore(directory: str, entries: list[str]) -> set[str]:
        here = Path(directory).relative_to(root)
        return {e for e in entries if str(here / e) in names or (str(here) == "." and e in names)}
    return ignore


def _described(entry: dict, kind: str) -> dict:
    """provenance and as_of of an input (the kind's default provenance when not given)."""
    out = {"provenance": entry.get("provenance") or DEFAULT_PROVENANCE[kind]}
    if entry.get("as_of"):
        out["as_of"] = str(entry["as_of"])
    return out


def _update_source(meta: dict, replaced: list[str], changed: str, kind: str, entry: dict, source_name: str) -> None:
    """The ``[[sources]]`` entry of the input: rewritten for the new file (the old entry's
    citation and note described the old data, so they go), added when there was none."""
    sources = [s for s in meta.get("sources", []) if s.get("file") not in (*replaced, changed)]
    today = dt.date.today().isoformat()
    item = {"file": changed, **_described(entry, kind),
            "citation": entry.get("citation") or f"imported from {source_name} on {today}"}
    if entry.get("note"):
        item["note"] = str(entry["note"])
    meta["sources"] = [*sources, item]


def _update_coverage(meta: dict, current: Path, kind: str, entry: dict, source_name: str
                     ) -> tuple[str, list[str], dict]:
    """The ``[[coverage]]`` entry the new file replaces (same kind, operator and technology; any
    OpenCelliD entry for an OpenCelliD export), or a new one; returns (file, files replaced, the
    replaced entry)."""
    cov_kind = COVERAGE_KINDS[kind]
    fields = {k: v for k, v in entry.items() if k not in ("citation", "note") and v is not None and v != ""}
    entries = list(meta.get("coverage", []))

    def matches(e: dict) -> bool:
        if e.get("kind") != cov_kind:
            return False
        if cov_kind == "opencellid":
            return True
        return e.get("operator") == fields.get("operator") and e.get("technology") == fields.get("technology")

    found = [i for i, e in enumerate(entries) if matches(e)]
    old = entries[found[0]] if found else {}
    replaced = [str(old["file"])] if old.get("file") else []
    changed = _free_name(current, f"coverage/{Path(source_name).name}", set(replaced))
    new = {**{k: v for k, v in old.items() if k not in ("file", *SOURCE_FIELDS)}, "file": changed, "kind": cov_kind,
           **fields, **_described(entry, kind)}
    if found:
        entries[found[0]] = new
    else:
        entries.append(new)
    meta["coverage"] = entries
    return changed, replaced, old


def _free_name(current: Path, wanted: str, replaceable: set) -> str:
    """``wanted``, or ``wanted`` with -2, -3 ... when another input already has that name."""
    path, n = Path(wanted), 1
    stem, dot, rest = path.name.partition(".")  # "cells.csv.gz" -> "cells-2.csv.gz"
    name = wanted
    while (current / name).exists() and name not in replaceable:
        n += 1
        name = str(path.with_name(f"{stem}-{n}{dot}{rest}"))
    return name


def _still_used(meta: dict, name: str) -> bool:
    files = [e.get("file") for e in meta.get("coverage", [])] + [meta.get("population", {}).get("file")]
    return name in files


def _build(target: Path, store: Path, data_dir: Path | str | None, say: Progress) -> Path:
    from coverage import store as store_module  # the store imports the engine: only when building

    say("building the results")
    return store_module.build(target, store, data_dir=data_dir, progress=say)


def _refusal(exc: DataFileError, kind: str, target: Path, scenario: Path) -> ValidationReport:
    """A whole-scenario problem as a report, with the version's paths shown as the scenario's."""
    report = ValidationReport(exc.path, kind, ok=False, message=str(exc).split("\n", 1)[0],
                              problems=list(exc.problems))
    return report.shown_as(str(target), str(scenario))


def _discard(path: Path, created_versions: Path | None) -> None:
    shutil.rmtree(path, ignore_errors=True)
    if created_versions is not None:
        shutil.rmtree(created_versions, ignore_errors=True)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _record(scenario: Path, number: int, kind: str, changed: str, target: Path, source_name: str,
            built: Path | None) -> Version:
    manifest = json.loads((built / "manifest.json").read_text(encoding="utf-8")) if built else {}
    data = {"number": number, "created_at": _now(), "kind": kind, "file": changed,
            "sha256": _sha256(target / changed), "source": source_name,
            "store": str(built) if built else None, "built_at": manifest.get("built_at")}
    _write_json(target.with_suffix(".json"), data)
    return Version(**{**data, "number": number}, path=target, current=True)


def _repoint(scenario: Path, target: Path, first: bool) -> None:
    """Point ``scenario`` at ``target`` with one atomic rename. At the first import the plain
    folder itself becomes version 1 (moved, not copied: byte for byte what it was)."""
    folders = target.parent
    if first or not scenario.is_symlink():
        initial = folders / f"{1:04d}"
        _write_json(initial.with_suffix(".json"), {
            "number": 1, "created_at": _now(), "kind": _INITIAL, "file": None, "sha256": None, "source": None,
            "store": None, "built_at": None})
        os.rename(scenario, initial)
    link = scenario.with_name(f".{scenario.name}.link-{os.getpid()}")
    link.unlink(missing_ok=True)
    link.symlink_to(Path(folders.name) / target.name)
    os.replace(link, scenario)


def _clean_abandoned(folders: Path, scenario: Path) -> None:
    """Leftovers of imports killed half-way: staging folders, and version folders never recorded."""
    current = scenario.resolve()
    for path in folders.iterdir():
        stale = path.name.startswith(".import-") or (
            path.is_dir() and path.name.isdigit() and not path.with_suffix(".json").is_file() and path != current)
        if stale:
            shutil.rmtree(path, ignore_errors=True)
