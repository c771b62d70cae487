"""A tiny eBPF assembler: instruction encoding, labels and jumps.

Only what the data plane's programs need is here: 64-bit and 32-bit ALU with an
immediate or a register, loads and stores of 1/2/4/8 bytes, conditional jumps to
named labels (64-bit and 32-bit compares), helper calls, ``exit`` and the two-slot
``ld_imm64`` (plain or with a map file descriptor). Encoding follows the kernel's
``struct bpf_insn`` (``include/uapi/linux/bpf.h``): ``u8 code; u8 dst:4, src:4;
s16 off; s32 imm`` in host byte order.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass, field
from typing import Final

# Instruction classes.
LD: Final = 0x00
LDX: Final = 0x01
ST: Final = 0x02
STX: Final = 0x03
ALU: Final = 0x04
JMP: Final = 0x05
JMP32: Final = 0x06
ALU64: Final = 0x07
# Sizes and modes.
W: Final = 0x00
H: Final = 0x08
B: Final = 0x10
DW: Final = 0x18
IMM: Final = 0x00
MEM: Final = 0x60
# Operand source.
K: Final = 0x00
X: Final = 0x08
# ALU operations.
ADD: Final = 0x00
SUB: Final = 0x10
OR: Final = 0x40
AND: Final = 0x50
LSH: Final = 0x60
RSH: Final = 0x70
MOV: Final = 0xB0
# Jump operations.
JA: Final = 0x00
JEQ: Final = 0x10
JGT: Final = 0x20
JGE: Final = 0x30
JSET: Final = 0x40
JNE: Final = 0x50
CALL: Final = 0x80
EXIT: Final = 0x90
#: ``src_reg`` of ``ld_imm64`` that makes the verifier read ``imm`` as a map fd.
PSEUDO_MAP_FD: Final = 1

_SIZES: Final = {1: B, 2: H, 4: W, 8: DW}
_INSN: Final = struct.Struct("=BBhi")


class AsmError(ValueError):
    """A program could not be assembled (unknown label, bad operand, jump out of range)."""


def _regs(dst: int, src: int) -> int:
    for reg in (dst, src):
        if not 0 <= reg <= 10:
            raise AsmError(f"register r{reg} does not exist; eBPF has r0 to r10")
    # struct bpf_insn has ``__u8 dst_reg:4, src_reg:4``: the first bit-field is in the
    # low nibble on little-endian ABIs and in the high nibble on big-endian ones.
    if sys.byteorder == "little":
        return (src << 4) | dst
    return (dst << 4) | src


def s32(value: int) -> int:
    """Return ``value`` (a signed or an unsigned 32-bit number) as a signed 32-bit int."""
    if not -(2**31) <= value < 2**32:
        raise AsmError(f"immediate {value} does not fit in 32 bits")
    return value - 2**32 if value >= 2**31 else value


@dataclass
class _Insn:
    code: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0
    label: str | None = None  # a jump target to resolve into ``off``


@dataclass
class Program:
    """A program being assembled; methods append instructions, ``assemble()`` encodes them."""

    insns: list[_Insn] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)

    # --- plumbing -----------------------------------------------------------------
    def _emit(self, code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> None:
        self.insns.append(_Insn(code, dst, src, off, s32(imm)))

    def label(self, name: str) -> None:
        """Name the position of the next instruction."""
        if name in self.labels:
            raise AsmError(f"label {name!r} defined twice")
        self.labels[name] = len(self.insns)

    # --- ALU ----------------------------------------------------------------------
    def mov_imm(self, dst: int, imm: int) -> None:
        """``dst = imm`` (64-bit, sign-extended)."""
        self._emit(ALU64 | MOV | K, dst, imm=imm)

    def mov_reg(self, dst: int, src: int) -> None:
        """``dst = src`` (64-bit)."""
        self._emit(ALU64 | MOV | X, dst, src)

    def alu_imm(self, op: int, dst: int, imm: int) -> None:
        """``dst op= imm`` (64-bit)."""
        self._emit(ALU64 | op | K, dst, imm=imm)

    def alu32_imm(self, op: int, dst: int, imm: int) -> None:
        """``dst op= imm`` (32-bit; the upper half of ``dst`` becomes zero)."""
        self._emit(ALU | op | K, dst, imm=imm)

    def ld_imm64(self, dst: int, imm: int) -> None:
        """``dst = imm`` for a full 64-bit constant (two instruction slots)."""
        if not 0 <= imm < 2**64:
            raise AsmError(f"64-bit immediate {imm} out of range")
        self._emit(LD | DW | IMM, dst, imm=imm & 0xFFFFFFFF)
        self._emit(0, imm=imm >> 32)

    def ld_map_fd(self, dst: int, map_fd: int) -> None:
        """``dst = &map`` (the verifier swaps the fd for the map's address)."""
        self._emit(LD | DW | IMM, dst, PSEUDO_MAP_FD, imm=map_fd)
        self._emit(0)

    # --- memory -------------------------------------------------------------------
    def ldx(self, size: int, dst: int, src: int, off: int) -> None:
        """``dst = *(uSIZE *)(src + off)`` (zero-extended)."""
        self._emit(LDX | MEM | _SIZES[size], dst, src, off)

    def stx(self, size: int, dst: int, off: int, src: int) -> None:
        """``*(uSIZE *)(dst + off) = src``."""
        self._emit(STX | MEM | _SIZES[size], dst, src, off)

    def st_imm(self, size: int, dst: int, off: int, imm: int) -> None:
        """``*(uSIZE *)(dst + off) = imm``."""
        self._emit(ST | MEM | _SIZES[size], dst, off=off, imm=imm)

    # --- control flow -------------------------------------------------------------
    def ja(self, label: str) -> None:
        """Jump to ``label``."""
        self.insns.append(_Insn(JMP | JA, label=label))

    def jmp_imm(self, op: int, dst: int, imm: int, label: str) -> None:
        """``if (dst op imm) goto label`` comparing 64 bits (``imm`` sign-extended)."""
        self.insns.append(_Insn(JMP | op | K, dst, imm=s32(imm), label=label))

    def jmp32_imm(self, op: int, dst: int, imm: int, label: str) -> None:
        """``if ((u32)dst op (u32)imm) goto label``."""
        self.insns.append(_Insn(JMP32 | op | K, dst, imm=s32(imm), label=label))

    def jmp_reg(self, op: int, dst: int, src: int, label: str) -> None:
        """``if (dst op src) goto label`` comparing 64 bits."""
        self.insns.append(_Insn(JMP | op | X, dst, src, label=label))

    def jmp32_reg(self, op: int, dst: int, src: int, label: str) -> None:
        """``if ((u32)dst op (u32)src) goto label``."""
        self.insns.append(_Insn(JMP32 | op | X, dst, src, label=label))

    def call(self, helper: int) -> None:
        """Call kernel helper number ``helper`` (arguments in r1-r5, result in r0)."""
        self._emit(JMP | CALL, imm=helper)

    def exit(self) -> None:
        """Return r0."""
        self._emit(JMP | EXIT)

    def ret(self, value: int) -> None:
        """``return value``."""
        self.mov_imm(0, value)
        self.exit()

    # --- output -------------------------------------------------------------------
    def assemble(self) -> bytes:
        """Resolve labels and return the encoded instructions."""
        out = bytearray()
        for index, insn in enumerate(self.insns):
            off = insn.off
            if insn.label is not None:
                if insn.label not in self.labels:
                    raise AsmError(f"jump to undefined label {insn.label!r}")
                off = self.labels[insn.label] - (index + 1)
                if not -(2**15) <= off < 2**15:
                    raise AsmError(f"jump to {insn.label!r} is too far ({off} instructions)")
            out += _INSN.pack(insn.code, _regs(insn.dst, insn.src), off, insn.imm)
        return bytes(out)

    def __len__(self) -> int:
        return len(self.insns)
