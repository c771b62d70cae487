from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sessionnet_vip.engine.config import ConfigError, load_config, parse_config

from .conftest import REPO

BASE: dict[str, Any] = {
    "subnet": "198.51.100.0/24",
    "pool": ["198.51.100.10-198.51.100.20"],
    "state_dir": "/var/lib/x",
    "control_socket": "/run/x.sock",
}


def cfg(**changes: Any) -> dict[str, Any]:
    data = dict(BASE)
    for key, value in changes.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def test_example_config_loads() -> None:
    config = load_config(REPO / "examples" / "engine.yml")
    assert config.pool.size == 40 + 14
    assert config.state_dir == (REPO / "examples" / "state")
    assert config.policy.inherit_children is False
    assert not config.policy.warnings  # the example uses full paths only


def test_defaults() -> None:
    config = parse_config(
        {"pool": ["198.51.100.10-198.51.100.20"], "state_dir": "/s", "control_socket": "/c"}
    )
    assert config.hold_seconds == 300
    assert config.metrics_port is None
    assert config.isolate_loopback is False
    assert config.subnet is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (cfg(pool_size=3), "unknown key.*pool_size"),
        (cfg(pool=["198.51.100.10-198.51.100.20", "198.51.100.15-198.51.100.30"]), "overlap"),
        (cfg(pool=["198.51.101.10-198.51.101.20"]), "outside the subnet"),
        (cfg(pool=["198.51.100.0-198.51.100.9"]), "network address"),
        (cfg(pool=["198.51.100.200-198.51.100.255"]), "broadcast address"),
        (cfg(pool=...), "'pool' is missing"),
        (cfg(pool="198.51.100.10"), "YAML list"),
        (cfg(subnet="nonsense"), "'subnet'"),
        (cfg(processes=["/opt/*/bin/app"]), "wildcard"),
        (cfg(processes=["bin/app"]), "relative path"),
        (cfg(prefer_loopback_processes=["./app"]), "relative path"),
        (cfg(processes=[{"path": "/opt/a", "mode": "teleport"}]), "mode 'teleport' is unknown"),
        (cfg(processes=[{"path": "/opt/a", "colour": "red"}]), "'path' and optional 'mode'"),
        (cfg(hold_seconds=-1), "hold_seconds"),
        (cfg(hold_seconds="soon"), "hold_seconds"),
        (cfg(inherit_children="yes"), "inherit_children"),
        (cfg(isolate_loopback=1), "isolate_loopback"),
        (cfg(metrics_port=70000), "metrics_port"),
        (cfg(session_provider="utmp"), "session_provider"),
        (cfg(state_dir="relative/dir"), "relative path"),
        (["pool"], "YAML mapping"),
    ],
)
def test_config_errors(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(data, source="test.yml")


def test_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(cfg(colour="red")))
    with pytest.raises(ConfigError, match=r"bad\.yml: unknown key\(s\) colour"):
        load_config(path)


def test_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("pool: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "none.yml")


def test_bare_names_warn_and_windows_rules() -> None:
    config = parse_config(cfg(processes=["crm.exe", r"C:\Program Files\CRM\crm.exe"]), platform="windows")
    assert len(config.policy.warnings) == 1 and "crm.exe" in config.policy.warnings[0]
    with pytest.raises(ConfigError, match="relative path"):
        parse_config(cfg(processes=[r"CRM\crm.exe"]), platform="windows")
    with pytest.raises(ConfigError, match="relative path"):
        parse_config(cfg(processes=[r"C:crm.exe"]), platform="windows")
