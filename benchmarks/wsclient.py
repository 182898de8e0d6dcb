"""A Streamlit session without a browser: the app's websocket protocol spoken directly.

Why: N headless chromiums rendering maps take more of a 2-core machine than the server does
(:mod:`benchmarks.load`), so a load test with browsers measures the machine. A :class:`Session`
does on the wire what Streamlit's front end does, and nothing that only a browser does (no
rendering, no static files, no map frame), so N of them load the server alone:

* before connecting, ``GET /_stcore/health`` and ``GET /_stcore/host-config`` (as the front end
  does before it opens its websocket);
* the websocket ``/_stcore/stream`` with the ``streamlit`` subprotocol and a same-origin
  ``Origin`` (no XSRF token: it only guards Streamlit's own sign-in cookie, which this app does
  not use), compressed (permessage-deflate) as a browser's;
* every run asked for with a ``BackMsg.rerun_script`` carrying a :class:`ClientState`: the query
  string, the page's script hash (from the server's last ``new_session``), the browser context,
  the hashes of the messages this session holds (the server then sends a ``ref_hash`` instead of
  a large element it has sent before, as it does to a browser) and the state of every widget of
  the last run (a widget's value is what the server last set, or what the reader chose);
* the server's ``ForwardMsg``\\ s read until ``script_finished`` of the run asked for.

Widgets are found by their label in the elements of the last run (selectbox and radio: the
option's text, as the front end sends it; checkbox and stateful expander: a bool); widgets the
front end sends only on a click (buttons, download buttons, components) are not sent.
"""

from __future__ import annotations

import json
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass, field

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

MAP_COMPONENT = "streamlit_folium.st_folium"
# The browser context a reader in Vietnam sends (ContextInfo).
CONTEXT = {"timezone": "Asia/Ho_Chi_Minh", "timezone_offset": -420, "locale": "vi-VN", "is_embedded": False,
           "color_scheme": "light"}
_FINISHED = ForwardMsg.ScriptFinishedStatus
_COLLECTION = '{"type":"FeatureCollection"'


class SessionError(RuntimeError):
    """The server closed the session, did not finish a run in time, or sent what cannot be used."""


@dataclass
class Widget:
    """A widget of the last run: what the front end keeps of it and sends back."""
    id: str
    kind: str  # selectbox, radio, checkbox, expandable
    label: str
    options: list[str]
    value: str | bool | None

    def state(self) -> WidgetState | None:
        if self.value is None:
            return None
        out = WidgetState(id=self.id)
        if isinstance(self.value, bool):
            out.bool_value = self.value
        else:
            out.string_value = self.value
        return out


@dataclass
class MapContent:
    """What one map element carries: its feature collections, counted."""
    polygons: int = 0
    points: int = 0
    fills: list[str] = field(default_factory=list)  # fill colour of each polygon

    def matches(self, expect: dict) -> bool:
        """As :mod:`benchmarks.app` checks a drawn map: polygon count, point count (when given),
        fill colours (when given)."""
        return (self.polygons == expect["polygons"]
                and (expect.get("points") is None or self.points == expect["points"])
                and (not expect.get("fills") or ",".join(sorted(self.fills)) == expect["fills"]))


@dataclass
class Run:
    """One script run as the session received it."""
    seconds: float = 0.0  # request sent -> script_finished
    map_seconds: float | None = None  # request sent -> the (last) map element received
    bytes: int = 0  # websocket messages received, as decoded (what the front end handles)
    messages: int = 0
    refs: int = 0  # elements the server sent as a reference to one this session holds
    status: str = ""
    maps: list[MapContent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # exception and error elements shown


def map_content(json_args: str) -> MapContent:
    """Count the features of every GeoJSON collection in a map component's arguments (the app
    inlines its layers as collections in the component's script)."""
    out = MapContent()
    text = "\n".join(v for v in json.loads(json_args).values() if isinstance(v, str))
    decoder = json.JSONDecoder()
    at = text.find(_COLLECTION)
    while at >= 0:
        collection, end = decoder.raw_decode(text, at)
        for feature in collection.get("features", ()):
            kind = (feature.get("geometry") or {}).get("type")
            if kind in ("Polygon", "MultiPolygon"):
                out.polygons += 1
                out.fills.append((feature.get("properties") or {}).get("colour"))
            elif kind == "Point":
                out.points += 1
        at = text.find(_COLLECTION, end)
    return out


def rerun_message(query_string: str, page_script_hash: str, widgets: list[WidgetState],
                  cached_hashes: list[str], context: dict) -> bytes:
    """The ``BackMsg`` the front end sends to ask for a run."""
    msg = BackMsg()
    state = msg.rerun_script
    state.query_string = query_string
    state.page_script_hash = page_script_hash
    state.widget_states.widgets.extend(widgets)
    state.cached_message_hashes.extend(cached_hashes)
    for key, value in context.items():
        setattr(state.context_info, key, value)
    return msg.SerializeToString()


class Session:
    """One reader's session on a running app (``url``: ``http://127.0.0.1:PORT``)."""

    def __init__(self, url: str, timeout: float = 30.0, query_string: str = "") -> None:
        self.url, self.timeout, self.query_string = url.rstrip("/"), timeout, query_string
        self.page_script_hash = ""
        self.widgets: dict[str, Widget] = {}
        self.context = {**CONTEXT, "url": f"{self.url}/"}
        self._cache: dict[str, ForwardMsg] = {}  # cacheable elements received, by hash
        self._last_used: dict[str, int] = {}  # hash -> run in which it was last received or used
        self._runs = 0
        self._max_age = 2  # runs a cached element is kept unused (the server's setting, from new_session)
        self._stack = ExitStack()
        self._ws = None

    # -- connection ---------------------------------------------------------------------------------
    def open(self) -> Run:
        """Connect as a new visitor and run the page once (its first paint, on the server)."""
        started = time.monotonic()
        for path in ("/_stcore/health", "/_stcore/host-config"):
            with urllib.request.urlopen(self.url + path, timeout=self.timeout) as response:
                response.read()
        host = self.url.split("://", 1)[1]
        self._ws = self._stack.enter_context(connect(
            f"ws://{host}/_stcore/stream", subprotocols=["streamlit"], origin=self.url, max_size=None,
            proxy=None, open_timeout=self.timeout))
        return self._run({}, started)

    def close(self) -> None:
        self._stack.close()
        self._ws = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the reader's inputs --------------------------------------------------------------------------
    def widget(self, label: str) -> Widget:
        """The widget of the last run with this label."""
        found = [w for w in self.widgets.values() if w.label == label]
        if len(found) != 1:
            raise SessionError(f"{len(found)} widgets labelled {label!r} in the last run")
        return found[0]

    def choose(self, label: str, option: str) -> Run:
        """Choose an option of a selectbox or radio (by its text), as a click on it does."""
        w = self.widget(label)
        if option not in w.options:
            raise SessionError(f"{option!r} is not an option of {label!r}: {w.options}")
        return self._run({w.id: option}, time.monotonic())

    def rerun(self) -> Run:
        """Run the page again with nothing changed (what "Rerun" in the app's menu does)."""
        return self._run({}, time.monotonic())

    def value(self, label: str) -> str | bool | None:
        return self.widget(label).value

    # -- one run ----------------------------------------------------------------------------------------
    def _run(self, changed: dict[str, str | bool], started: float) -> Run:
        if self._ws is None:
            raise SessionError("the session is not open")
        states = []
        for wid, w in self.widgets.items():
            if wid in changed:
                w.value = changed[wid]
            if (s := w.state()) is not None:
                states.append(s)
        hashes = sorted(self._cache)
        self._ws.send(rerun_message(self.query_string, self.page_script_hash, states, hashes, self.context))
        self._runs += 1
        run, seen = Run(), {}
        deadline = started + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SessionError(f"no end of the run within {self.timeout:g} s")
            try:
                data = self._ws.recv(timeout=left)
            except TimeoutError:
                raise SessionError(f"no end of the run within {self.timeout:g} s") from None
            except ConnectionClosed as exc:
                raise SessionError(f"the server closed the session: {exc}") from exc
            now = time.monotonic()
            run.bytes += len(data)
            run.messages += 1
            msg = ForwardMsg()
            msg.ParseFromString(data)
            kind = msg.WhichOneof("type")
            if kind == "ref_hash":
                run.refs += 1
                msg = self._cached(msg.ref_hash)
                kind = msg.WhichOneof("type")
            elif msg.metadata.cacheable and msg.hash:
                self._cache[msg.hash] = msg
                self._last_used[msg.hash] = self._runs
            if kind == "new_session":
                self.page_script_hash = msg.new_session.page_script_hash or self.page_script_hash
                self._max_age = msg.new_session.config.max_cached_message_age or self._max_age
                seen = {}  # a new run began (e.g. after st.rerun): its widgets replace the others
                run.maps.clear()
            elif kind == "delta":
                self._delta(msg, run, seen, now - started)
            elif kind == "script_finished":
                status = _FINISHED.Name(msg.script_finished)
                if msg.script_finished == _FINISHED.FINISHED_EARLY_FOR_RERUN:
                    continue  # the script asked for another run, which follows
                run.seconds, run.status = now - started, status
                if msg.script_finished == _FINISHED.FINISHED_SUCCESSFULLY:
                    self.widgets = seen  # the front end forgets widgets the run did not draw
                else:
                    run.errors.append(f"script finished: {status}")
                self._expire()
                return run

    def _cached(self, ref: str) -> ForwardMsg:
        if ref not in self._cache:
            raise SessionError(f"the server referred to element {ref}, which this session does not hold")
        self._last_used[ref] = self._runs
        return self._cache[ref]

    def _expire(self) -> None:
        """Drop elements unused for more than the server's ``max_cached_message_age`` runs (as the
        front end does, so the hashes it sends stay those the server may refer to)."""
        for ref in [r for r, used in self._last_used.items() if self._runs - used > self._max_age]:
            self._cache.pop(ref, None)
            self._last_used.pop(ref, None)

    def _delta(self, msg: ForwardMsg, run: Run, seen: dict[str, Widget], at: float) -> None:
        delta = msg.delta
        if delta.WhichOneof("type") == "add_block":
            block = delta.add_block
            if block.WhichOneof("type") == "expandable" and block.expandable.id:
                e = block.expandable
                seen[e.id] = Widget(e.id, "expandable", e.label, [], bool(e.expanded))
            return
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind in ("selectbox", "radio"):
            w = getattr(element, kind)
            options = list(w.options)
            if w.HasField("raw_value"):
                value: str | None = w.raw_value
            else:
                value = options[w.default] if 0 <= w.default < len(options) else None
            seen[w.id] = Widget(w.id, kind, w.label, options, value)
        elif kind == "checkbox":
            w = element.checkbox
            seen[w.id] = Widget(w.id, kind, w.label, [], bool(w.value if w.set_value else w.default))
        elif kind == "exception":
            run.errors.append(f"exception: {element.exception.type}: {element.exception.message}"[:500])
        elif kind == "alert" and element.alert.format == Alert.ERROR:
            run.errors.append(f"error: {element.alert.body}"[:500])
        elif kind == "component_instance" and element.component_instance.component_name == MAP_COMPONENT:
            run.maps.append(map_content(element.component_instance.json_args))
            run.map_seconds = at
