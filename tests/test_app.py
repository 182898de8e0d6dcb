"""Fast page-logic checks with Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")


def test_app_offline_says_boundaries_are_approximate(no_data_dir) -> None:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert any("approximate" in w.value for w in at.warning)
    assert at.dataframe[0].value.shape[0] == 63
    at.sidebar.radio[0].set_value("34").run()
    assert at.dataframe[0].value.shape[0] == 34


def test_app_official(data_dir, monkeypatch) -> None:
    monkeypatch.setenv("VNBB_DATA_DIR", str(data_dir))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert not at.warning
    assert "Open Development Vietnam" in at.caption[0].value
