"""`vnbb bench` passes its options to the benchmark (which is not run, nor timed, here)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import benchmarks.national as national
from app.cli import app


def test_bench_passes_its_options_through(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(national, "main", lambda argv=None: seen.append(argv))
    argv = ["--resolution", "30", "9", "--sites", "25000", "100000", "--methods", "project", "floor"]
    result = CliRunner().invoke(app, ["bench", *argv])
    assert result.exit_code == 0, result.output
    assert seen == [argv]
    args = national.parser().parse_args(argv)
    assert args.resolution == [30.0, 9.0] and args.sites == [25000, 100000] and args.methods == ["project", "floor"]


def test_bench_help_and_errors_come_from_the_benchmark() -> None:
    result = CliRunner().invoke(app, ["bench", "--help"])
    assert result.exit_code == 0
    assert "--resolution" in result.output and "--sites" in result.output
    bad = CliRunner().invoke(app, ["bench", "--methods", "nonsense"])
    assert bad.exit_code == 2  # refused by the benchmark's own parser, nothing run


def test_growth_exponents_read_linear_scaling() -> None:
    rows = [{"arcsec": 30, "cells": 100, "sites": 10, "project_s": 1.0, "floor_s": 0.1},
            {"arcsec": 9, "cells": 1000, "sites": 10, "project_s": 10.0, "floor_s": 0.1},
            {"arcsec": 30, "cells": 100, "sites": 40, "project_s": 2.0}]
    grow = national.growth(rows)
    cells = [g for g in grow if g["with"] == "cells"]
    sites = [g for g in grow if g["with"] == "sites"]
    assert cells == [{"with": "cells", "from": 100, "to": 1000, "size_ratio": 10.0, "project": 1.0, "floor": 0.0}]
    assert sites[0]["project"] == 0.5


def test_a_methods_own_cpu_time_and_memory_are_kept(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """The project reports its build's CPU time and peak memory (not the step timed after it)."""
    import json

    monkeypatch.setattr(national, "_run_floor", lambda scenario, work: {"seconds": 1.0, "cpu_seconds": 0.25,
                                                                        "peak_rss_mib": 12.0})
    national._child("floor", tmp_path, tmp_path)
    assert json.loads((tmp_path / "floor.json").read_text()) == {"seconds": 1.0, "cpu_seconds": 0.25,
                                                                 "peak_rss_mib": 12.0}
    monkeypatch.setattr(national, "_run_floor", lambda scenario, work: {"seconds": 1.0})
    national._child("floor", tmp_path, tmp_path)
    measured = json.loads((tmp_path / "floor.json").read_text())
    assert measured["cpu_seconds"] >= 0 and measured["peak_rss_mib"] > 0
