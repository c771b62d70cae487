"""The Windows service's pure parts (command line, paths, checks) and vipctl service off Windows."""

from __future__ import annotations

import sys

import pytest

from sessionnet_vip.cli import main
from sessionnet_vip.engine.windows import service

PY = "C:\\Program Files\\Python312\\python.exe"
CFG = "C:\\ProgramData\\sessionnet-vip\\engine.yml"


def test_service_command_line_is_quoted_and_runs_the_dispatcher() -> None:
    cmd = service.service_command(PY, CFG)
    assert cmd == f'"{PY}" -m sessionnet_vip service run --config {CFG}'


def test_config_with_spaces_is_quoted() -> None:
    cmd = service.service_command(PY, "D:\\vip config\\engine.yml")
    assert cmd.endswith('--config "D:\\vip config\\engine.yml"')


@pytest.mark.parametrize(
    ("python", "config", "name", "expected"),
    [
        ("python.exe", CFG, "sessionnet-vip", "--python"),
        ("C:\\Python312\\python", CFG, "sessionnet-vip", "--python"),
        (PY, "engine.yml", "sessionnet-vip", "--config"),
        (PY, CFG, "a/b", "--name"),
        (PY, CFG, "", "--name"),
        (PY, 'C:\\x"y.yml', "sessionnet-vip", "quotes"),
    ],
)
def test_install_arguments_checked(python: str, config: str, name: str, expected: str) -> None:
    with pytest.raises(service.ServiceError, match=expected):
        service.check_install(python, config, name)


def test_install_arguments_accepted() -> None:
    service.check_install(PY, CFG, "sessionnet-vip")


def test_default_log_path() -> None:
    assert service.default_log_path({"ProgramData": "D:\\Data"}) == "D:\\Data\\sessionnet-vip\\engine.log"
    assert service.default_log_path({}) == "C:\\ProgramData\\sessionnet-vip\\engine.log"


def test_state_names_and_status_text() -> None:
    assert service.state_name(4) == "running"
    assert service.state_name(99) == "unknown (99)"
    st = service.ServiceStatus(
        "sessionnet-vip", True, "running", "auto", service.service_command(PY, CFG), 812
    )
    assert "running" in st.describe() and "pid 812" in st.describe()
    assert "not installed" in service.ServiceStatus("x", False).describe()


@pytest.mark.skipif(sys.platform == "win32", reason="checks the message off Windows")
@pytest.mark.parametrize(
    "argv", [["service", "status"], ["service", "remove"], ["service", "run", "--config", CFG]]
)
def test_vipctl_service_off_windows_is_a_clear_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Windows service" in err and "Traceback" not in err


def test_the_light_registration_names_the_same_default_service() -> None:
    from sessionnet_vip.engine.windows import servicecli

    assert servicecli.DEFAULT_SERVICE_NAME == service.DEFAULT_SERVICE_NAME
