"""What `make windows` produces: PE images of the right machine type for both architectures,
and the shipped copies (roles/vip_agent/files/windows/<arch>/) identical to the build."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from .conftest import REPO

MACHINE = {"x64": 0x8664, "x86": 0x014C}  # IMAGE_FILE_MACHINE_AMD64 / _I386 (PE format)
SHIPPED = ("viprun.exe", "sessionnet_vipdp.dll")


def pe_machine(path: Path) -> tuple[int, bool]:
    """(machine, is_dll) from the PE/COFF file header."""
    data = path.read_bytes()
    assert data[:2] == b"MZ", path
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    assert data[pe : pe + 4] == b"PE\0\0", path
    machine, _, _, _, _, _, characteristics = struct.unpack_from("<HHIIIHH", data, pe + 4)
    return machine, bool(characteristics & 0x2000)  # IMAGE_FILE_DLL


@pytest.mark.parametrize("arch", sorted(MACHINE))
def test_binaries_per_architecture(windows_build: Path, arch: str) -> None:
    for name in SHIPPED:
        built = windows_build / arch / name
        machine, is_dll = pe_machine(built)
        assert machine == MACHINE[arch] and is_dll == name.endswith(".dll"), name
        shipped = REPO / "roles" / "vip_agent" / "files" / "windows" / arch / name
        assert shipped.read_bytes() == built.read_bytes(), f"{shipped} differs from {built}: run make windows"
