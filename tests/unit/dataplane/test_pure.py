"""Parts of the data plane that need no kernel feature: assembler, probe messages, matching."""

from __future__ import annotations

import errno
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionnet_vip.engine.linux import ProcessList, process_exe
from sessionnet_vip.engine.linux import bpfasm as asm
from sessionnet_vip.engine.linux.bpfsys import BpfError
from sessionnet_vip.engine.linux.cgroups import Cgroup2Mount, find_cgroup2
from sessionnet_vip.engine.linux.dataplane import _bpf_reason
from sessionnet_vip.errors import VipError

INSN = struct.Struct("=BBhi")


def decode(code: bytes) -> list[tuple[int, int, int, int]]:
    return [INSN.unpack_from(code, i) for i in range(0, len(code), 8)]


@given(before=st.integers(0, 40), after=st.integers(0, 40), backwards=st.booleans())
def test_jumps_land_on_their_label(before: int, after: int, backwards: bool) -> None:
    p = asm.Program()
    if backwards:
        p.label("target")
    for _ in range(before):
        p.mov_imm(0, 0)
    jump_at = len(p)
    p.jmp_imm(asm.JEQ, 1, 7, "target")
    for _ in range(after):
        p.mov_imm(0, 1)
    if not backwards:
        p.label("target")
    p.exit()
    target = p.labels["target"]
    off = decode(p.assemble())[jump_at][2]
    assert jump_at + 1 + off == target


def test_ld_imm64_takes_two_slots_and_keeps_both_halves() -> None:
    p = asm.Program()
    p.ld_imm64(3, 0x1122334455667788)
    first, second = decode(p.assemble())
    assert first[0] == asm.LD | asm.DW | asm.IMM
    assert (first[3] & 0xFFFFFFFF) | (second[3] << 32) == 0x1122334455667788


def test_assembler_refuses_bad_input() -> None:
    p = asm.Program()
    p.ja("nowhere")
    with pytest.raises(asm.AsmError, match="undefined label 'nowhere'"):
        p.assemble()
    with pytest.raises(asm.AsmError, match="r11 does not exist"):
        asm._regs(11, 0)
    with pytest.raises(asm.AsmError, match="does not fit in 32 bits"):
        asm.s32(2**32)
    p.label("x")
    with pytest.raises(asm.AsmError, match="defined twice"):
        p.label("x")


@given(st.integers(0, 2**32 - 1))
def test_s32_round_trips_unsigned_words(value: int) -> None:
    assert asm.s32(value) & 0xFFFFFFFF == value


def test_probe_reasons_name_what_is_missing(tmp_path: Path) -> None:
    assert "CAP_BPF" in _bpf_reason(BpfError("bpf() map create failed: EPERM", errno.EPERM))
    assert "CONFIG_BPF_SYSCALL" in _bpf_reason(BpfError("bpf() map create failed: ENOSYS", errno.ENOSYS))
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text("22 1 0:21 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n")
    assert find_cgroup2(str(mountinfo)) is None
    mountinfo.write_text(
        "22 1 0:21 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
        "30 1 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
    )
    mount = find_cgroup2(str(mountinfo))
    assert mount == Cgroup2Mount(Path("/sys/fs/cgroup/unified"), "/")
    assert mount.level(Path("/sys/fs/cgroup/unified/sessionnet/session-3")) == 2


def test_symlinked_interpreter_is_matched_by_its_real_path(tmp_path: Path) -> None:
    link = tmp_path / "python-link"
    link.symlink_to(sys.executable)
    proc = subprocess.Popen([str(link), "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        real = Path(os.path.realpath(sys.executable))
        assert process_exe(proc.pid) == real
        assert ProcessList.resolve([str(link)]).matches_pid(proc.pid)
        assert ProcessList.resolve([real.name]).matches_pid(proc.pid)
        assert not ProcessList.resolve(["/bin/true"]).matches_pid(proc.pid)
    finally:
        proc.communicate(b"")


def test_process_list_warns_about_missing_entries_and_refuses_bad_ones(tmp_path: Path) -> None:
    missing = tmp_path / "not-there"
    resolved = ProcessList.resolve([str(missing), "no-such-program-xyz"])
    assert resolved.warnings == (
        f"process list entry {missing} does not exist on disk (yet); kept as given",
        "process list entry 'no-such-program-xyz' is not on PATH; matched by file name only",
    )
    assert resolved.matches_exe(Path("/opt/x/no-such-program-xyz"))
    with pytest.raises(VipError, match="relative path"):
        ProcessList.resolve(["bin/app"])
    with pytest.raises(VipError, match="does not exist"):
        process_exe(2**22 + 12345)
