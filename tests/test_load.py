"""The load test's command line, statistics and websocket client (nothing timed: the load test
itself is not in the suite; one short run against a real server checks that it works)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from benchmarks import load, wsclient


def test_defaults_are_the_issue_figures() -> None:
    args = load.parse_args([])
    assert args.users == [1, 10, 30]
    assert (args.duration, args.runs, args.think, args.timeout) == (60.0, 1, 1.0, 30.0)
    assert args.client == "ws"


def test_arguments_are_parsed() -> None:
    args = load.parse_args(["--users", "2", "5", "--duration", "12.5", "--runs", "3", "--think", "0",
                            "--warmup", "0", "--out", "x.json", "--client", "browser"])
    assert args.users == [2, 5]
    assert args.client == "browser"
    assert (args.duration, args.runs, args.think, args.warmup) == (12.5, 3, 0.0, 0.0)
    assert str(args.out) == "x.json"


@pytest.mark.parametrize("argv", [["--users", "0"], ["--users", "ten"], ["--duration", "0"], ["--runs", "-1"],
                                  ["--think", "-1"], ["--timeout", "0"],
                                  ["--client", "curl"]])
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


def test_summary_of_a_ws_run() -> None:
    timings = [{"action": "first_paint", "seconds": 1.0, "map_seconds": 0.9, "bytes": 200_000}] + [
        {"action": "province", "seconds": s, "map_seconds": s / 2, "bytes": 100_000 + int(s * 1000)}
        for s in (0.2, 0.4, 0.6)]
    out = load.summarise(1, timings, [{"kind": "wrong_map"}, {"kind": "timeout"}, {"kind": "timeout"}], [])
    assert out["inputs"] == 3
    assert out["errors_by_kind"] == {"wrong_map": 1, "timeout": 2}
    assert (out["redraw_median_s"], out["map_median_s"]) == (0.4, 0.2)
    assert out["received_kb_median"] == 100.4  # the first paint's 200 kB not among the inputs
    assert "settled_median_s" not in out


# -- the websocket client ------------------------------------------------------------------------------
def _collection(features: list[tuple[str, str | None]]) -> str:
    """GeoJSON text as the app inlines it: (geometry type, fill colour) per feature."""
    shapes = {"Polygon": '{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}',
              "MultiPolygon": '{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]]]}',
              "Point": '{"type":"Point","coordinates":[105.8,21.0]}', "null": "null"}
    return ('{"type":"FeatureCollection","features":[' + ",".join(
        f'{{"type":"Feature","geometry":{shapes[kind]},"properties":{{"n":"T\\u00e2y <\\/b>",'
        f'"colour":{json.dumps(colour)}}}}}' for kind, colour in features) + "]}")


def _map_args(*collections: str) -> str:
    script = "".join(f"var layer_{i} = L.geoJson({c}, options);\n" for i, c in enumerate(collections))
    return json.dumps({"script": "var map_div = L.map('map_div');", "feature_group": script, "height": 620,
                       "default": {"last_object_clicked": None}})


def test_map_content_counts_every_collection() -> None:
    content = wsclient.map_content(_map_args(
        _collection([("Polygon", "#d7191c"), ("MultiPolygon", "#1a9641"), ("null", None)]),
        _collection([("Point", "#d7191c")] * 3)))
    assert (content.polygons, content.points) == (2, 3)
    assert sorted(content.fills) == ["#1a9641", "#d7191c"]
    assert content.matches({"polygons": 2, "points": 3, "fills": "#1a9641,#d7191c"})
    assert content.matches({"polygons": 2, "points": None, "fills": None})
    assert not content.matches({"polygons": 2, "points": 2, "fills": None})
    assert not content.matches({"polygons": 3, "points": None, "fills": None})
    assert not content.matches({"polygons": 2, "points": 3, "fills": "#1a9641,#1a9641"})
    assert wsclient.map_content(_map_args()).polygons == 0


def test_rerun_message_round_trip() -> None:
    widgets = [wsclient.Widget("a", "selectbox", "A", ["x", "y"], "y").state(),
               wsclient.Widget("b", "checkbox", "B", [], False).state()]
    data = wsclient.rerun_message("lang=vi", "hash1", widgets, ["h1", "h2"], {**wsclient.CONTEXT, "url": "u"})
    msg = BackMsg.FromString(data)
    state = msg.rerun_script
    assert msg.WhichOneof("type") == "rerun_script"
    assert (state.query_string, state.page_script_hash) == ("lang=vi", "hash1")
    assert [(w.id, w.WhichOneof("value")) for w in state.widget_states.widgets] == [("a", "string_value"),
                                                                                    ("b", "bool_value")]
    assert state.widget_states.widgets[0].string_value == "y" and state.widget_states.widgets[1].bool_value is False
    assert list(state.cached_message_hashes) == ["h1", "h2"]
    assert (state.context_info.timezone, state.context_info.url) == ("Asia/Ho_Chi_Minh", "u")
    assert wsclient.Widget("c", "selectbox", "C", [], None).state() is None  # no value: not sent


def _new_session(page: str = "page1") -> ForwardMsg:
    msg = ForwardMsg()
    msg.new_session.page_script_hash = page
    msg.new_session.config.max_cached_message_age = 2
    return msg


def _element(kind: str, **fields: object) -> ForwardMsg:
    msg = ForwardMsg()
    element = getattr(msg.delta.new_element, kind)
    for name, value in fields.items():
        if isinstance(value, list):
            getattr(element, name).extend(value)
        else:
            setattr(element, name, value)
    return msg


def _expander(wid: str, label: str) -> ForwardMsg:
    msg = ForwardMsg()
    msg.delta.add_block.expandable.id = wid
    msg.delta.add_block.expandable.label = label
    return msg


def _map_element(args: str, digest: str) -> ForwardMsg:
    msg = _element("component_instance", component_name=wsclient.MAP_COMPONENT, id="map", json_args=args)
    msg.hash, msg.metadata.cacheable = digest, True
    return msg


def _finished(status: int = ForwardMsg.FINISHED_SUCCESSFULLY) -> ForwardMsg:
    msg = ForwardMsg()
    msg.script_finished = status
    return msg


def _ref(digest: str) -> ForwardMsg:
    msg = ForwardMsg()
    msg.ref_hash = digest
    return msg


class _Server:
    """Stands in for the websocket: answers each request with the next list of messages."""

    def __init__(self, replies: list[list[ForwardMsg]]) -> None:
        self.replies, self.sent, self.queue, self.opened = replies, [], [], {}

    def __call__(self, uri: str, **options: object) -> _Server:  # the connect function
        self.opened = {"uri": uri, **options}
        return self

    def __enter__(self) -> _Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed = True

    def send(self, data: bytes) -> None:
        self.sent.append(BackMsg.FromString(data).rerun_script)
        self.queue = [m.SerializeToString() for m in self.replies.pop(0)] if self.replies else []

    def recv(self, timeout: float | None = None) -> bytes:
        if not self.queue:
            raise TimeoutError
        return self.queue.pop(0)


class _Response:
    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def read(self) -> bytes:
        return b"ok"


@pytest.fixture()
def fake_server(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    asked: list[str] = []

    def serve(replies: list[list[ForwardMsg]]) -> _Server:
        server = _Server(replies)
        monkeypatch.setattr(wsclient, "connect", server)
        monkeypatch.setattr(wsclient.urllib.request, "urlopen", lambda url, timeout: asked.append(url) or _Response())
        server.asked = asked
        return server

    return serve


def test_session_speaks_as_the_front_end(fake_server) -> None:  # noqa: ANN001
    national = _map_args(_collection([("Polygon", "#d7191c")] * 2))
    first = [_new_session(), _element("radio", id="view", label="Page", options=["National", "Province"], default=0),
             _element("selectbox", id="ind", label="Indicator", options=["Households", "Villages"], default=0,
                      raw_value="Households", set_value=True),
             _element("checkbox", id="cov", label="Covered", default=False),
             _expander("tbl", "Table"), _map_element(national, "h-national"), _finished()]
    second = [_new_session(), _element("radio", id="view", label="Page", options=["National", "Province"],
                                       default=0),
              _element("selectbox", id="ind", label="Indicator", options=["Households", "Villages"], default=0,
                       raw_value="Villages", set_value=True),
              _ref("h-national"), _element("exception", type="KeyError", message="'x'"), _finished()]
    server = fake_server([first, second] + [[_new_session(), _finished()]] * 4)
    session = wsclient.Session("http://127.0.0.1:8501", timeout=5)
    run = session.open()
    assert server.asked == ["http://127.0.0.1:8501/_stcore/health", "http://127.0.0.1:8501/_stcore/host-config"]
    assert server.opened["uri"] == "ws://127.0.0.1:8501/_stcore/stream"
    assert server.opened["subprotocols"] == ["streamlit"] and server.opened["origin"] == "http://127.0.0.1:8501"
    assert (server.sent[0].page_script_hash, list(server.sent[0].widget_states.widgets)) == ("", [])
    assert run.status == "FINISHED_SUCCESSFULLY" and run.errors == [] and run.refs == 0
    assert [(m.polygons, m.points) for m in run.maps] == [(2, 0)] and run.map_seconds is not None
    assert run.bytes > len(national) and run.messages == len(first)
    assert {w.label: w.value for w in session.widgets.values()} == {
        "Page": "National", "Indicator": "Households", "Covered": False, "Table": False}

    run = session.choose("Indicator", "Villages")
    sent = server.sent[1]
    assert sent.page_script_hash == "page1"
    assert {w.id: getattr(w, w.WhichOneof("value")) for w in sent.widget_states.widgets} == {
        "view": "National", "ind": "Villages", "cov": False, "tbl": False}
    assert list(sent.cached_message_hashes) == ["h-national"]
    # the map came as a reference to the element the session holds, the exception is an error
    assert run.refs == 1 and [(m.polygons, m.points) for m in run.maps] == [(2, 0)]
    assert run.errors == ["exception: KeyError: 'x'"]
    # widgets the run did not draw are forgotten, as the front end forgets them
    assert set(session.widgets) == {"view", "ind"} and session.value("Indicator") == "Villages"

    with pytest.raises(wsclient.SessionError, match="not an option"):
        session.choose("Indicator", "Sites")
    with pytest.raises(wsclient.SessionError, match="0 widgets labelled"):
        session.choose("Province", "Hà Nội")
    for _ in range(3):
        session.rerun()
        assert list(server.sent[-1].cached_message_hashes) == ["h-national"]
    session.rerun()  # unused for more runs than the server's max_cached_message_age: dropped
    assert list(server.sent[-1].cached_message_hashes) == []
    with pytest.raises(wsclient.SessionError, match="no end of the run"):
        session.rerun()  # the server does not answer
    session.close()
    assert server.closed


def test_session_reports_failed_runs(fake_server) -> None:  # noqa: ANN001
    error = _element("alert", body="Store problem")
    error.delta.new_element.alert.format = error.delta.new_element.alert.ERROR
    warning = _element("alert", body="Synthetic data")
    warning.delta.new_element.alert.format = warning.delta.new_element.alert.WARNING
    fake_server([[_new_session(), warning, error, _finished(ForwardMsg.FINISHED_WITH_COMPILE_ERROR)],
                 [_new_session(), _ref("unknown")]])
    session = wsclient.Session("http://127.0.0.1:8501", timeout=5)
    run = session.open()
    assert run.errors == ["error: Store problem", "script finished: FINISHED_WITH_COMPILE_ERROR"]
    with pytest.raises(wsclient.SessionError, match="does not hold"):
        session.rerun()


def test_a_short_ws_run_against_the_app(demo_store: Path, tmp_path: Path) -> None:
    """N = 1 for 3 s against a real server: every input drew the expected map, nothing failed."""
    out = tmp_path / "load.json"
    load.main(["--users", "1", "--duration", "3", "--think", "0", "--warmup", "0", "--timeout", "120",
               "--cache", os.environ["VNBB_CACHE_DIR"], "--out", str(out)])
    result = json.loads(out.read_text())
    summary = result["summary"][0]
    assert result["machine"]["client"] == "ws"
    assert (summary["users"], summary["readers_active"], summary["errors"]) == (1, 1, 0), result["runs"][0]["errors"]
    timings = result["runs"][0]["timings"]
    actions = [r["action"] for r in timings]
    assert actions[:4] == ["first_paint", "indicator", "indicator", "open_province_page"]
    assert all(r["bytes"] > 0 and 0 < r["map_seconds"] <= r["seconds"] for r in timings)
    assert summary["inputs"] >= 3 and result["samples"]
