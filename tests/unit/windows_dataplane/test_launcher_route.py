"""The IFEO Debugger route: registry facts and desired state (launcher_route), validated with the
registry hand's own parser. The Debugger command line itself is executed under Wine in
test_wine.py::test_ifeo_debugger_command_line."""

from __future__ import annotations

import pytest

from sessionnet_vip.errors import VipError
from sessionnet_vip.windows.launcher_route import (
    DEBUGGER_VALUE,
    IFEO_KEY,
    build_launcher_route,
    debugger_command,
)
from sessionnet_vip.windows.registry import display_path, parse_values

VIPRUN = "C:\\Program Files\\sessionnet-vip\\x64\\viprun.exe"


def test_present_sets_debugger_in_both_views() -> None:
    plan = build_launcher_route(["C:\\Apps\\CTI\\ctiagent.exe", "licsrv.exe"], VIPRUN)
    assert plan.images == ["ctiagent.exe", "licsrv.exe"]
    values = parse_values(plan.values)
    assert [(display_path(v.key, v.view), v.name, v.type, v.data) for v in values] == [
        (f"{IFEO_KEY}\\{image}", DEBUGGER_VALUE, "string", f'"{VIPRUN}" --ifeo')
        if view == "64"
        else (
            IFEO_KEY.replace("SOFTWARE", "SOFTWARE\\Wow6432Node") + f"\\{image}",
            DEBUGGER_VALUE,
            "string",
            f'"{VIPRUN}" --ifeo',
        )
        for image in ("ctiagent.exe", "licsrv.exe")
        for view in ("64", "32")
    ]
    assert any("bare" in w or "name" in w for w in plan.warnings)  # licsrv.exe is a bare name


def test_absent_removes_only_the_debugger_value() -> None:
    values = parse_values(build_launcher_route(["ctiagent.exe"], VIPRUN, state="absent").values)
    assert {(v.name, v.state, v.view) for v in values} == {
        (DEBUGGER_VALUE, "absent", "64"),
        (DEBUGGER_VALUE, "absent", "32"),
    }


def test_paths_sharing_a_name_share_one_key() -> None:
    plan = build_launcher_route(["C:\\A\\app.exe", "D:\\B\\APP.exe"], VIPRUN)
    assert plan.images == ["app.exe"]
    assert any("share an executable name" in w for w in plan.warnings)


def test_custom_pipe_goes_on_the_command_line() -> None:
    assert debugger_command(VIPRUN, "\\\\.\\pipe\\other") == f'"{VIPRUN}" --pipe \\\\.\\pipe\\other --ifeo'
    assert debugger_command(VIPRUN, "\\\\.\\pipe\\sessionnet-vip") == f'"{VIPRUN}" --ifeo'


@pytest.mark.parametrize(
    ("programs", "viprun", "kwargs", "needle"),
    [
        ([], VIPRUN, {}, "programs is empty"),
        (["C:\\Apps\\tool.bat"], VIPRUN, {}, "does not end in .exe"),
        (["..\\x.exe"], VIPRUN, {}, "relative path"),
        (["app.exe"], "viprun.exe", {}, "full path of viprun.exe"),
        (["app.exe"], VIPRUN, {"state": "on"}, "use present or absent"),
        (["app.exe"], VIPRUN, {"pipe": "sessionnet"}, "local pipe name"),
    ],
)
def test_bad_input_names_the_input(
    programs: list[str], viprun: str, kwargs: dict[str, str], needle: str
) -> None:
    with pytest.raises(VipError, match=needle):
        build_launcher_route(programs, viprun, **kwargs)  # type: ignore[arg-type]
