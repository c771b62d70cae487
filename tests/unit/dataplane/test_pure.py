"""Parts of the data plane that need no kernel feature: C/Python agreement, probe messages, matching."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sessionnet_vip.engine.linux import ProcessList, libbpf, process_exe, programs
from sessionnet_vip.engine.linux.bpfsys import BpfError
from sessionnet_vip.engine.linux.cgroups import Cgroup2Mount, find_cgroup2
from sessionnet_vip.engine.linux.dataplane import _bpf_reason
from sessionnet_vip.errors import VipError

REPO = Path(__file__).resolve().parents[3]
C_SOURCE = (REPO / "native" / "bpf" / "sessionnet.bpf.c").read_text()


def c_define(name: str) -> str:
    match = re.search(rf"^#define {name} (.+?)(?:\s*/\*.*)?$", C_SOURCE, re.M)
    assert match, f"{name} is not defined in sessionnet.bpf.c"
    return match.group(1).strip()


def test_flags_and_modes_match_the_c_source() -> None:
    assert c_define("SNV_INHERIT") == f"(1u << {programs.FLAG_INHERIT_CHILDREN.bit_length() - 1})"
    assert c_define("SNV_ISOLATE") == f"(1u << {programs.FLAG_ISOLATE_LOOPBACK.bit_length() - 1})"
    assert c_define("SNV_SOURCE_VIP") == f"(1u << {programs.FLAG_SOURCE_VIP.bit_length() - 1})"
    assert c_define("SNV_REPORT") == f"(1u << {programs.FLAG_REPORT_ORIGINAL.bit_length() - 1})"
    assert int(c_define("SNV_MODE_SHIFT")) == programs.MODE_SHIFT
    for mode, number in programs.MODE_NUMBERS.items():
        assert int(c_define(f"SNV_{mode.name}")) == number


def test_map_records_and_hooks_match_the_c_source() -> None:
    session = re.search(r"struct session_rec \{(.*?)\};", C_SOURCE, re.S)
    proc = re.search(r"struct proc_rec \{(.*?)\};", C_SOURCE, re.S)
    assert session and proc
    sizes = {"__be32": 4, "__u32": 4, "__u64": 8}
    assert (
        sum(sizes[t] for t in re.findall(r"(__\w+) \w+;", session.group(1))) == programs.SESSION_RECORD.size
    )
    assert sum(sizes[t] for t in re.findall(r"(__\w+) \w+;", proc.group(1))) == programs.PROC_VALUE.size
    assert re.findall(r"^int (snv_\w+)\(struct bpf_sock_addr", C_SOURCE, re.M) == list(programs.HOOKS)
    for name in (programs.SESSIONS_MAP, programs.PROCS_MAP):
        assert f'}} {name} SEC(".maps");' in C_SOURCE


def test_missing_object_names_the_build_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(libbpf.resources, "files", lambda _pkg: tmp_path)
    with pytest.raises(libbpf.LibbpfError, match="make bpf"):
        libbpf.object_path()


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
