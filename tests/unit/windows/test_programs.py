from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionnet_vip.windows.programs import ProgramListError, normalize_programs


def test_dedup_case_insensitive_keeps_first_spelling_and_order() -> None:
    result = normalize_programs([r"C:\App\B.exe", "a.exe", r"c:\app\b.EXE", "A.EXE", "C:/App/c.exe"])
    assert result.programs == [r"C:\App\B.exe", "a.exe", r"C:\App\c.exe"]
    assert (
        len(result.warnings) == 1
        and "a.exe" in result.warnings[0]
        and "full path is safer" in result.warnings[0]
    )


def test_full_paths_give_no_warning() -> None:
    assert normalize_programs([r"C:\Program Files\CTI\agent.exe", r"\\srv\share\app.exe"]).warnings == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("*.exe", "wildcards"),
        ('"C:\\a.exe"', "quotes"),
        ("app.exe ", "trailing spaces"),
        (r"..\x.exe", "relative"),
        (r".\x.exe", "relative"),
        (r"dir\x.exe", "relative"),
        (r"C:\a\..\x.exe", "'..'"),
        ("C:x.exe", "drive-relative"),
        (r"%ProgramFiles%\x.exe", "environment"),
        ("", "full path"),
        (5, "full path"),
        (r"C:\dir\\", "trailing"),
    ],
)
def test_bad_entries(entry: object, message: str) -> None:
    with pytest.raises(ProgramListError, match=message) as err:
        normalize_programs(["ok.exe", entry], option="programs")
    assert "programs[1]" in str(err.value)


@given(
    st.lists(st.sampled_from([r"C:\A\x.exe", r"c:\a\X.EXE", "y.exe", "Y.exe", r"\\s\sh\z.exe"]), max_size=12)
)
def test_idempotent_and_unique(entries: list[str]) -> None:
    once = normalize_programs(entries).programs
    assert normalize_programs(once).programs == once
    assert len({p.casefold() for p in once}) == len(once)
