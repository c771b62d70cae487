"""Filters, the package/version guard and the docs-derived validation."""

from __future__ import annotations

import pathlib
import re
import sys
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



def test_ee_metadata_points_at_requirement_files_that_install_this_package() -> None:
    """Collection EE metadata (as ansible.windows ships it): file names, not an EE definition."""
    ee = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    assert ee["version"] == 1
    assert ee["dependencies"] == {"python": "meta/ee-requirements.txt", "system": "meta/ee-bindep.txt"}
    lines = [
        line.strip()
        for line in (ROOT / ee["dependencies"]["python"]).read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    names = [re.split(r"[\s@<>=\[]", line, maxsplit=1)[0] for line in lines]
    assert names == ["sessionnet-vip", "pywinrm", "pypsrp"]
    # the package comes from the collection itself (pyproject.toml at its root), where
    # ansible-builder installs collections: always the collection's own version
    assert lines[0].endswith("/ansible_collections/sessionnet/virtual_ip")
    assert (ROOT / "pyproject.toml").is_file()
    assert (ROOT / ee["dependencies"]["system"]).is_file()


def test_missing_package_names_it() -> None:
    def importer(name: str) -> types.ModuleType:
        raise ImportError(f"No module named {name!r}")

    with pytest.raises(AnsibleError) as err:
        package.require_sessionnet_vip("9.9.9", importer=importer)
    message = str(err.value)
    # it leads with the one command that works: pip install of the collection's own directory
    # (which holds pyproject.toml and src/), with the Python that runs Ansible
    root = pathlib.Path(package._COLLECTION_ROOT)
    assert message.startswith(
        f"Install the Python package 'sessionnet-vip' shipped in the sessionnet.virtual_ip collection: "
        f"{sys.executable} -m pip install {root} -- "
    )
    assert (root / "pyproject.toml").is_file() and (root / "src" / "sessionnet_vip").is_dir()
    assert "No module named 'sessionnet_vip'" in message


def test_mismatched_version_refused() -> None:
    fake = types.SimpleNamespace(__version__="0.0.1", __file__="/x/sessionnet_vip/__init__.py")
    with pytest.raises(AnsibleError, match="version 0.0.1 is installed"):
        package.require_sessionnet_vip("0.1.0", importer=lambda name: fake)


def test_matching_version_accepted() -> None:
    assert package.require_sessionnet_vip() is sessionnet_vip
