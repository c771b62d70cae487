"""Filters, the package/version guard and the docs-derived validation."""

from __future__ import annotations

import pathlib
import re
import types

import pytest
import yaml
from ansible.errors import AnsibleError, AnsibleFilterError
from ansible_collections.sessionnet.virtual_ip.plugins.filter.virtual_loopback_address import (
    virtual_loopback_address,
)
from ansible_collections.sessionnet.virtual_ip.plugins.filter.virtual_loopback_session import (
    virtual_loopback_session,
)
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils import package

import sessionnet_vip

ROOT = pathlib.Path(__file__).resolve().parents[3]


def test_filters_render_the_documented_examples() -> None:
    assert virtual_loopback_address(7) == "127.0.0.8"
    assert virtual_loopback_session("127.0.1.0") == 255


@pytest.mark.parametrize(
    "bad",
    [
        -1,
        0,
        16777214,
        16777215,
        "x",
        2.5,
        "\u00b2",
        "\u0665",
        "+-5",
        "1_0",
        float("nan"),
        pytest.param(10**5000, id="5001-digits"),
    ],
)
def test_address_filter_errors_name_value_and_range(bad: object) -> None:
    with pytest.raises(AnsibleFilterError) as err:
        virtual_loopback_address(bad)
    message = str(err.value)
    assert "virtual_loopback_address" in message and "1 to 16777213" in message
    assert len(message) < 500  # a huge value is shortened, never formatted whole
    if not (isinstance(bad, int) and bad > 10**100):
        assert str(bad) in message


@pytest.mark.parametrize("bad", ["127.0.0.0", "127.0.0.1", "127.255.255.255", "10.0.0.1"])
def test_session_filter_errors(bad: str) -> None:
    with pytest.raises(AnsibleFilterError, match=re.escape(bad)):
        virtual_loopback_session(bad)


def test_versions_agree_everywhere() -> None:
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert galaxy["version"] == sessionnet_vip.__version__
    assert f'version = "{galaxy["version"]}"' in pyproject
    assert package.collection_version(str(ROOT)) == galaxy["version"]
    ee = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    assert f"sessionnet-vip=={galaxy['version']}" in ee["dependencies"]["python"]


def test_missing_package_names_it() -> None:
    def importer(name: str) -> types.ModuleType:
        raise ImportError(f"No module named {name!r}")

    with pytest.raises(AnsibleError, match="sessionnet-vip.*pip install sessionnet-vip==9.9.9"):
        package.require_sessionnet_vip("9.9.9", importer=importer)


def test_mismatched_version_refused() -> None:
    fake = types.SimpleNamespace(__version__="0.0.1", __file__="/x/sessionnet_vip/__init__.py")
    with pytest.raises(AnsibleError, match="version 0.0.1 is installed"):
        package.require_sessionnet_vip("0.1.0", importer=lambda name: fake)


def test_matching_version_accepted() -> None:
    assert package.require_sessionnet_vip() is sessionnet_vip
