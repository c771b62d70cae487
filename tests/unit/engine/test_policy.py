from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionnet_vip.engine.policy import Mode, Policy, PolicyError, ProcessRef


def test_full_path_and_bare_name_on_linux() -> None:
    policy = Policy.build(["/opt/crm/bin/crm", "helper"])
    assert policy.decide("/opt/crm/bin/crm").mode is Mode.VIRTUAL_IP
    assert policy.decide("/opt/crm/bin/CRM").mode is Mode.NONE  # exact on Linux
    assert policy.decide("/usr/local/bin/crm").mode is Mode.NONE  # a full path matches that path only
    assert policy.decide("/anywhere/helper").mode is Mode.VIRTUAL_IP  # a bare name matches any dir
    assert policy.decide("/anywhere/Helper").mode is Mode.NONE
    assert len(policy.warnings) == 1 and "'helper'" in policy.warnings[0]


def test_windows_is_case_insensitive() -> None:
    policy = Policy.build([r"C:\Program Files\CRM\crm.exe", "cti.exe"], platform="windows")
    assert policy.decide(r"c:\program files\crm\CRM.EXE").mode is Mode.VIRTUAL_IP
    assert policy.decide(r"D:\Tools\CTI.EXE").mode is Mode.VIRTUAL_IP
    assert policy.decide(r"C:\Program Files\CRM\other.exe").mode is Mode.NONE


def test_children_inherit_only_when_enabled() -> None:
    child = ProcessRef("/usr/bin/python3", ("/opt/crm/bin/crm", "/usr/lib/systemd/systemd"))
    assert Policy.build(["/opt/crm/bin/crm"]).decide(child).mode is Mode.NONE
    inherited = Policy.build(["/opt/crm/bin/crm"], inherit_children=True).decide(child)
    assert inherited.mode is Mode.VIRTUAL_IP
    assert inherited.via == "/opt/crm/bin/crm"


def test_precedence() -> None:
    policy = Policy.build(["/opt/a/bin/app", {"path": "app", "mode": "virtual_loopback"}], ["/opt/a/bin/app"])
    assert policy.decide("/opt/a/bin/app").mode is Mode.PREFER_LOOPBACK  # prefer list wins
    assert policy.decide("/opt/b/bin/app").mode is Mode.VIRTUAL_LOOPBACK  # bare name for others
    full_beats_bare = Policy.build(["/opt/a/bin/app"], ["app"])
    assert full_beats_bare.decide("/opt/a/bin/app").mode is Mode.VIRTUAL_IP


@pytest.mark.parametrize(
    "entry", ["*.exe", "/opt/app?", "/opt/[ab]/x", "bin/app", "./app", "../app", "/opt/dir/", "", 3, None]
)
def test_rejected_entries(entry: object) -> None:
    with pytest.raises(PolicyError):
        Policy.build([entry])


@given(st.text(alphabet="abcXYZ./-_", min_size=1, max_size=12))
def test_absolute_linux_paths_match_only_themselves(name: str) -> None:
    path = "/opt/" + name.replace("/", "_")
    if path.endswith("/") or any(part in ("", ".", "..") for part in path.split("/")[1:]):
        return
    policy = Policy.build([path])
    assert policy.decide(path).mode is Mode.VIRTUAL_IP
    assert policy.decide(path + "x").mode is Mode.NONE
    assert policy.decide(path.upper()).mode is (Mode.VIRTUAL_IP if path.upper() == path else Mode.NONE)
