from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sessionnet_vip.cli import main


def test_loopback_prints_address(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loopback", "7"]) == 0
    assert capsys.readouterr().out.strip() == "127.0.0.8"


def test_loopback_inverse_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loopback", "--address", "127.0.1.0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"address": "127.0.1.0", "session_id": 255}


def test_global_json_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "loopback", "255"]) == 0
    assert json.loads(capsys.readouterr().out)["address"] == "127.0.1.0"


@pytest.mark.parametrize(
    "argv",
    [
        ["loopback", "--", "-1"],
        ["loopback", "0"],
        ["loopback", "16777214"],
        ["loopback", "x"],
        ["loopback", "--address", "10.0.0.1"],
        ["loopback", "--address", "127.0.0.1"],
        ["loopback"],
    ],
)
def test_bad_input_exit_2_with_message(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("vipctl: error:")


def test_console_module_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sessionnet_vip", "loopback", "254"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert out.strip() == "127.0.0.255"
