"""Name resolution: the spellings people use, and names that must not be mapped."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from app.cli import app
from geodata import load_registry
from geodata.errors import AmbiguousUnitError, UnknownUnitError
from geodata.names import name_key


@pytest.mark.parametrize(("name", "scheme", "code"), [
    ("Hà Nội", "63", "01"), ("ha noi", "63", "01"), ("HÀ NỘI", "34", "01"), ("Hanoi", "63", "01"),
    ("Thành phố Hà Nội", "63", "01"), ("TP. Hồ Chí Minh", "63", "79"), ("TP.HCM", "34", "79"),
    ("Ho Chi Minh City", "63", "79"), ("ho chi minh", "34", "79"),
    ("Ba Ria - Vung Tau", "63", "77"), ("Bà Rịa -Vũng Tàu", "63", "77"), ("Tỉnh Bà Rịa - Vũng Tàu", "63", "77"),
    ("Thua Thien Hue", "63", "46"), ("Thừa Thiên Huế", "34", "46"), ("Huế", "63", "46"),
    ("Cần Thơn", "63", "92"), ("Quản Bình", "63", "44"), ("Kien Giang", "63", "91"),
    ("Đăk Lăk", "63", "66"), ("Dak Lak province", "34", "66"), ("Đắk Nông", "63", "67"),
    ("Tỉnh Tuyên Quang", "34", "08"), ("tuyen quang", "63", "08"), ("02", "63", "02"), ("2", "63", "02"),
])
def test_resolves(name: str, scheme: str, code: str) -> None:
    assert load_registry().resolve(name, scheme).code == code


@pytest.mark.parametrize(("name", "scheme", "suggested", "says"), [
    ("Đà Lạt", "63", "68", "district-level"),          # a city inside Lâm Đồng
    ("Vũng Tàu", "63", "77", "district-level"),        # a city inside Bà Rịa-Vũng Tàu
    ("Vung Tau", "34", "79", "district-level"),        # ... which is now in HCMC
    ("Hà Giang", "34", "08", "until 1 July 2025"),    # a former province, merged into Tuyên Quang
    ("Hanoii", "63", "01", "matches no province"),     # misspelt: suggested, never mapped
])
def test_not_a_province(name: str, scheme: str, suggested: str, says: str) -> None:
    with pytest.raises(UnknownUnitError) as err:
        load_registry().resolve(name, scheme)
    assert suggested in [c for c, _ in err.value.suggestions]
    assert says in str(err.value)


def test_ambiguous_name() -> None:
    with pytest.raises(AmbiguousUnitError) as err:
        load_registry().resolve("Quang", "63")
    assert {"22", "44", "45", "49", "51"} <= {c for c, _ in err.value.suggestions}


def test_commune_resolution() -> None:
    reg = load_registry()
    assert reg.resolve("Phường Ba Đình", "34", "commune").code == "00004"
    with pytest.raises(AmbiguousUnitError):
        reg.resolve("Phường 1", "63", "commune")
    unit = reg.resolve("Phuc Xa", "63", "commune", province="Hà Nội")
    assert unit.code == "00001" and unit.parent_code == "01"


def test_name_key_forms() -> None:
    assert name_key("TP. Hồ Chí Minh") == name_key("Ho Chi Minh City") == "hochiminh"
    assert name_key("Tỉnh Bà Rịa - Vũng Tàu") == name_key("Ba Ria-Vung Tau")
    assert name_key("Đắk Lắk") == name_key("Dak Lak") == "daklak"


def test_cli_resolve_exit_codes() -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["resolve", "Ho Chi Minh City", "Thua Thien Hue", "--scheme", "63"])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.splitlines()[0].startswith("79\tThành phố Hồ Chí Minh")
    bad = runner.invoke(app, ["resolve", "Hà Nội", "Đà Lạt"])
    assert bad.exit_code == 2
    assert "Lâm Đồng" in bad.stderr and bad.stdout.startswith("01\t")


@pytest.mark.parametrize(("scheme", "level", "rows"), [
    ("63", "province", 63), ("34", "province", 34), ("34", "commune", 3321),
])
def test_cli_units_counts(scheme: str, level: str, rows: int) -> None:
    """Run the installed console script as a user would."""
    out = subprocess.run([sys.executable, "-m", "app.cli", "units", "--scheme", scheme, "--level", level],
                         capture_output=True, text=True, check=True).stdout
    lines = out.strip().splitlines()
    assert lines[0].split(",")[:4] == ["code", "name", "parent_code", "short_name"]
    assert lines[0].endswith(",source")
    assert len(lines) - 1 == rows
