"""The controller side of the vip_agent role's Windows path: the package wheel, the engine
configuration and the host command lines."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from sessionnet_vip.windows import agent_install as ai

ROOT = Path(__file__).resolve().parents[3]
WIN_DIR = "C:\\ProgramData\\sessionnet-vip"
PY = "C:\\Program Files\\Python312\\python.exe"


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_windows_extra_is_the_pyproject_extra() -> None:
    extra = pyproject()["project"]["optional-dependencies"]["windows"]  # type: ignore[index]
    assert [dep.split(";")[0].strip() for dep in extra] == list(ai.WINDOWS_EXTRA)


def test_wheel_is_reproducible_and_installs(tmp_path: Path) -> None:
    first = ai.build_wheel(ROOT, tmp_path / "a")
    second = ai.build_wheel(ROOT, tmp_path / "b")
    assert first.name == f"sessionnet_vip-{ai.source_version(ROOT)}-py3-none-any.whl"
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as whl:
        names = whl.namelist()
        meta = whl.read(f"sessionnet_vip-{ai.source_version(ROOT)}.dist-info/METADATA").decode()
    assert "sessionnet_vip/engine/windows/transport.py" in names and "sessionnet_vip/py.typed" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert "Provides-Extra: windows" in meta
    assert "Requires-Dist: pywin32>=306; (sys_platform == 'win32') and extra == \"windows\"" in meta
    # pip accepts it (RECORD hashes, METADATA) and the package runs from it
    target = tmp_path / "target"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(first),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    out = subprocess.run(
        [sys.executable, "-c", "import sessionnet_vip.engine.windows.agentplane as m; print(m.__file__)"],
        env={**env, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().startswith(str(target))


def test_wheelhouse_manifest_decides_reuse(tmp_path: Path) -> None:
    dest = tmp_path / "wh"
    dest.mkdir()
    whl = ai.build_wheel(ROOT, dest)
    version = ai.source_version(ROOT)
    (dest / ai.MANIFEST).write_text(
        json.dumps({"version": version, "python_version": "3.12", "files": {whl.name: ai.sha256(whl)}})
    )
    assert ai.manifest_ok(dest, version, "3.12")
    assert not ai.manifest_ok(dest, version, "3.13")
    assert not ai.manifest_ok(dest, "9.9.9", "3.12")
    whl.write_bytes(b"tampered")
    assert not ai.manifest_ok(dest, version, "3.12")


def test_version_mismatch_with_the_collection_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "collection"
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src / "pyproject.toml")
    (src / "MANIFEST.json").write_text(json.dumps({"collection_info": {"version": "9.9.9"}}))
    with pytest.raises(ai.InstallError, match="collection is version 9.9.9"):
        ai.build_wheelhouse(src, tmp_path / "wh", "3.12")
    assert not (tmp_path / "wh").exists()


@pytest.mark.parametrize("version", ["3", "3.9", "3.12.1", "py3.12", ""])
def test_python_version_refused(tmp_path: Path, version: str) -> None:
    with pytest.raises(ai.InstallError, match="vip_agent_windows_python_version"):
        ai.build_wheelhouse(ROOT, tmp_path / "wh", version)


def test_engine_config() -> None:
    config = ai.engine_config(
        {"pool": ["10.20.0.50-10.20.0.59"], "processes": ["C:\\CRM\\crm.exe"], "data_plane_enabled": True,
         "metrics_port": 9101, "subnet": "10.20.0.0/24"},
        WIN_DIR,
    )  # fmt: skip
    assert config["state_dir"] == WIN_DIR + "\\state"
    assert config["control_pipe"] == "\\\\.\\pipe\\sessionnet-vip"
    assert config["data_plane"] == {"enabled": True, "assign_addresses": True}
    assert config["metrics_port"] == 9101 and config["subnet"] == "10.20.0.0/24"
    assert config["report_original"] is False


@pytest.mark.parametrize(
    ("settings", "windows_dir", "expected"),
    [
        ({"pool": []}, WIN_DIR, "vip_agent_pool is empty"),
        ({"pool": ["10.20.0.50"], "session_provider": "logind"}, WIN_DIR, "session_provider"),
        ({"pool": ["10.20.0.50"], "processes": ["/opt/crm"]}, WIN_DIR, "processes"),
        ({"pool": ["10.20.0.50"], "control_pipe": "sessionnet"}, WIN_DIR, "control_pipe"),
        ({"pool": ["not-an-address"]}, WIN_DIR, "pool"),
        ({"pool": ["10.20.0.50"]}, "ProgramData\\sessionnet-vip", "vip_agent_windows_dir"),
    ],
)
def test_engine_config_refused(settings: dict[str, object], windows_dir: str, expected: str) -> None:
    with pytest.raises(ai.VipError, match=expected):
        ai.engine_config(settings, windows_dir)


def test_install_commands_use_the_copied_wheels_only() -> None:
    cmds = ai.install_commands(PY, WIN_DIR, "0.1.0", "sessionnet-vip")
    pip = cmds["pip_install"]
    assert pip[:4] == [PY, "-m", "pip", "install"]
    assert pip[pip.index("--find-links") + 1] == WIN_DIR + "\\wheels" and "--no-index" in pip
    assert pip[-1] == "sessionnet-vip[windows]==0.1.0"
    assert cmds["service_install"] == [
        PY, "-m", "sessionnet_vip", "service", "install", "--config", WIN_DIR + "\\engine.yml",
        "--name", "sessionnet-vip", "--python", PY, "--json",
    ]  # fmt: skip
    assert cmds["health"][-4:] == ["--socket", "\\\\.\\pipe\\sessionnet-vip", "status", "--json"]
    other = ai.install_commands(PY, WIN_DIR, "0.1.0", "sessionnet-vip", "\\\\.\\pipe\\vip2")
    assert other["health"][-4:-2] == ["--socket", "\\\\.\\pipe\\vip2"]


def test_cli_config_is_idempotent_and_refuses_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "h" / "engine.yml"
    args = [
        "config",
        "--settings",
        json.dumps({"pool": ["10.20.0.50"]}),
        "--windows-dir",
        WIN_DIR,
        "--out",
        str(out),
    ]
    assert ai.main(args) == 0 and json.loads(capsys.readouterr().out)["changed"] is True
    assert ai.main(args) == 0 and json.loads(capsys.readouterr().out)["changed"] is False
    bad = tmp_path / "bad" / "engine.yml"
    assert ai.main(["config", "--settings", '{"pool": []}', "--windows-dir", WIN_DIR, "--out", str(bad)]) == 2
    assert "vip_agent_pool is empty" in capsys.readouterr().err
    assert not bad.parent.exists()


def test_launcher_route_of_the_listed_programs() -> None:
    programs = ai.route_programs(
        ["C:\\Program Files\\CRM\\crm.exe", {"path": "C:\\Legacy\\ident.exe", "mode": "client_address"}],
        ["C:\\Program Files\\CRM\\crm.exe"],
    )
    assert programs == ["C:\\Program Files\\CRM\\crm.exe", "C:\\Legacy\\ident.exe"]
    present = ai.launcher_route(programs, WIN_DIR, "x64", "\\\\.\\pipe\\sessionnet-vip", "present")
    assert [(v["path"].rsplit("\\", 1)[-1], v["view"]) for v in present] == [
        ("crm.exe", "64"), ("crm.exe", "32"), ("ident.exe", "64"), ("ident.exe", "32"),
    ]  # fmt: skip
    assert {v["data"] for v in present} == {f'"{WIN_DIR}\\bin\\x64\\viprun.exe" --ifeo'}
    other_pipe = ai.launcher_route(programs[:1], WIN_DIR, "x64", "\\\\.\\pipe\\vip2", "present")
    assert other_pipe[0]["data"].endswith("--pipe \\\\.\\pipe\\vip2 --ifeo")
    absent = ai.launcher_route(programs, WIN_DIR, "x64", "\\\\.\\pipe\\sessionnet-vip", "absent")
    assert {v["state"] for v in absent} == {"absent"} and not any("data" in v for v in absent)
    assert ai.launcher_route([], WIN_DIR, "x64", "\\\\.\\pipe\\sessionnet-vip", "present") == []
