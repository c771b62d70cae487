"""The inline hooker's instruction-length decoder (native/windows/hook_decode.c), built for the
host: lengths of the prologue instructions compilers emit (the x64 ones are Wine 8's ws2_32
prologues), and refusal of what it must not steal (short jumps)."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest


class Insn(ctypes.Structure):
    _fields_ = [
        ("length", ctypes.c_size_t),
        ("rip_disp", ctypes.c_int),
        ("rel32", ctypes.c_int),
        ("ends_flow", ctypes.c_int),
    ]


@pytest.fixture(scope="module")
def decode(windows_build: Path):  # type: ignore[no-untyped-def]
    lib = ctypes.CDLL(str(windows_build / "host" / "libhook_decode.so"))

    def run(code: str, x64: bool = True) -> Insn:
        raw = bytes.fromhex(code) + b"\x00" * 16
        out = Insn()
        lib.hook_decode(ctypes.c_char_p(raw), int(x64), ctypes.byref(out))
        return out

    return run


@pytest.mark.parametrize(
    ("code", "x64", "length", "rip", "rel"),
    [
        ("4157", True, 2, -1, -1),  # push r15
        ("55", True, 1, -1, -1),  # push rbp
        ("4883ec78", True, 4, -1, -1),  # sub rsp, 0x78
        ("488b8424a8000000", True, 8, -1, -1),  # mov rax, [rsp+0xa8]
        ("48c744244800000000", True, 9, -1, -1),  # mov qword [rsp+0x48], 0
        ("f6052dfd000008", True, 7, 2, -1),  # test byte [rip+0xfd2d], 8
        ("488d0500100000", True, 7, 3, -1),  # lea rax, [rip+0x1000]
        ("f30f1efa", True, 4, -1, -1),  # endbr64
        ("e800000000", True, 5, -1, 1),  # call rel32
        ("48b8efcdab8967452301", True, 10, -1, -1),  # mov rax, imm64
        ("8bff", False, 2, -1, -1),  # mov edi, edi
        ("8bec", False, 2, -1, -1),  # mov ebp, esp
        ("83ec10", False, 3, -1, -1),  # sub esp, 0x10
        ("a100100000", False, 0, -1, -1),  # mov eax, [moffs]: not stolen
        ("eb05", True, 0, -1, -1),  # jmp rel8: not stolen
        ("7405", True, 0, -1, -1),  # je rel8: not stolen
    ],
)
def test_lengths(decode, code: str, x64: bool, length: int, rip: int, rel: int) -> None:  # type: ignore[no-untyped-def]
    insn = decode(code, x64)
    assert (insn.length, insn.rip_disp, insn.rel32) == (length, rip, rel)


def test_ret_ends_flow(decode) -> None:  # type: ignore[no-untyped-def]
    assert decode("c3").ends_flow == 1 and decode("c3").length == 1
