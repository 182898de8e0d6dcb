"""`vnbb data fetch` against a real HTTP server on 127.0.0.1 serving the published source."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import geopandas as gpd
import pytest
from typer.testing import CliRunner

from app.cli import app
from geodata.crs import AREA_CRS
from geodata.errors import FetchError
from geodata.fetch import fetch_boundaries
from geodata.names import name_key


@pytest.fixture()
def serve():
    """Serve a folder over HTTP on a free loopback port; yields a function folder -> base URL."""
    servers = []

    def _serve(folder: Path) -> str:
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield _serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_fetch_derives_official_layers(data_dir, serve, tmp_path) -> None:
    base = serve(data_dir / "boundaries/source")
    result = CliRunner().invoke(app, ["data", "fetch", "--url", f"{base}/diaphantinhvn.kml",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    for scheme in ("63", "34"):
        got = gpd.read_file(tmp_path / f"out/boundaries/provinces_{scheme}.gpkg").set_index("gso_code").sort_index()
        ref = gpd.read_file(data_dir / f"boundaries/provinces_{scheme}.gpkg").set_index("gso_code").sort_index()
        assert list(got.index) == list(ref.index)
        assert [name_key(n) for n in got["name"]] == [name_key(n) for n in ref["name"]]
        diff = got.geometry.symmetric_difference(ref.geometry, align=True).to_crs(AREA_CRS).area
        assert diff.max() < 1.0  # m²
    got63 = gpd.read_file(tmp_path / "out/boundaries/provinces_63.gpkg")
    assert "Cần Thơn" in set(got63["source_name"])  # the source typo, resolved to Cần Thơ


def test_fetch_refuses_a_tampered_file(data_dir, serve, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("VNBB_CACHE_DIR", str(tmp_path / "cache"))  # no verified copy cached yet
    folder = tmp_path / "srv"
    folder.mkdir()
    shutil.copy(data_dir / "boundaries/source/diaphantinhvn.kml", folder)
    with open(folder / "diaphantinhvn.kml", "ab") as f:
        f.write(b"<!-- changed -->")
    base = serve(folder)
    with pytest.raises(FetchError, match="does not match the published SHA-256"):
        fetch_boundaries(out=tmp_path / "out", url=f"{base}/diaphantinhvn.kml")
    assert not (tmp_path / "out").exists()
