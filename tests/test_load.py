"""The load test's command line and statistics (not timed: the load test itself is not in the suite)."""

from __future__ import annotations

import pytest

from benchmarks import load


def test_defaults_are_the_issue_figures() -> None:
    args = load.parse_args([])
    assert args.users == [1, 10, 30]
    assert (args.duration, args.runs, args.think, args.timeout) == (60.0, 1, 1.0, 30.0)


def test_arguments_are_parsed() -> None:
    args = load.parse_args(["--users", "2", "5", "--duration", "12.5", "--runs", "3", "--think", "0",
                            "--warmup", "0", "--out", "x.json"])
    assert args.users == [2, 5]
    assert (args.duration, args.runs, args.think, args.warmup) == (12.5, 3, 0.0, 0.0)
    assert str(args.out) == "x.json"


@pytest.mark.parametrize("argv", [["--users", "0"], ["--users", "ten"], ["--duration", "0"], ["--runs", "-1"],
                                  ["--think", "-1"], ["--timeout", "0"]])
def test_bad_arguments_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        load.parse_args(argv)


def test_median_and_percentile() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert load.median(values) == 3.0
    assert load.median([1.0, 2.0, 3.0, 10.0]) == 2.5
    assert load.percentile(values, 0) == 1.0
    assert load.percentile(values, 100) == 5.0
    # 1..100: linear between ranks, as numpy's default
    assert load.percentile([float(v) for v in range(1, 101)], 95) == pytest.approx(95.05)
    assert load.percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError):
        load.percentile([], 50)
    with pytest.raises(ValueError):
        load.percentile(values, 101)


def test_slope_per_minute() -> None:
    times = [0.0, 1.0, 2.0, 3.0]
    assert load.slope_per_minute(times, [100.0, 100.5, 101.0, 101.5]) == pytest.approx(30.0)
    assert load.slope_per_minute(times, [200.0] * 4) == 0.0
    assert load.slope_per_minute([0.0], [1.0]) == 0.0
    with pytest.raises(ValueError):
        load.slope_per_minute(times, [1.0])


def test_summary_of_a_run() -> None:
    timings = [{"action": "first_paint", "seconds": 4.0}] + [
        {"action": "indicator", "seconds": s, "settled_seconds": s + 0.5} for s in (0.2, 0.4, 0.6, 0.8)]
    samples = [{"t": float(t), "server_rss_mb": 500.0 + t, "cpu_server": 0.5, "cpu_chromium": 1.0,
                "cpu_drivers": 0.1, "cpu_harness": 0.0, "cpu_machine": 1.8} for t in range(10)]
    out = load.summarise(3, timings, [{"kind": "timeout"}], samples, [{"server_rss_mb": 480.0}])
    assert (out["users"], out["inputs"], out["errors"], out["first_paints"]) == (3, 4, 1, 1)
    assert out["redraw_median_s"] == 0.5
    assert out["redraw_p95_s"] == pytest.approx(0.77)
    assert out["settled_median_s"] == 1.0
    assert (out["rss_start_mb"], out["rss_end_mb"], out["rss_max_mb"]) == (500.0, 509.0, 509.0)
    assert out["rss_slope_mb_per_min"] == pytest.approx(60.0)
    assert out["cpu_chromium_cores"] == 1.0
    assert out["rss_after_close_mb"] == 480.0
