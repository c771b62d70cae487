/* See hook_decode.h. Opcode facts from the Intel 64 and IA-32 Architectures Software
 * Developer's Manual, Volume 2 (opcode map, ModR/M and SIB encodings). */
#include "hook_decode.h"

/* Length of ModR/M + SIB + displacement at p (p points at ModR/M). Sets *rip when the operand
 * is RIP-relative (x64, mod 00, r/m 101) to the offset of its disp32 from p. */
static size_t modrm_len(const uint8_t *p, int x64, int *rip)
{
    uint8_t modrm = p[0];
    uint8_t mod = (uint8_t)(modrm >> 6), rm = (uint8_t)(modrm & 7);
    size_t len = 1;
    *rip = -1;
    if (mod == 3)
        return len;
    if (rm == 4) {
        uint8_t base = (uint8_t)(p[1] & 7);
        len++;
        if (mod == 0 && base == 5)
            return len + 4;
    }
    if (mod == 0 && rm == 5) {
        if (x64)
            *rip = 1;
        return len + 4;
    }
    if (mod == 1)
        return len + 1;
    if (mod == 2)
        return len + 4;
    return len;
}

void hook_decode(const uint8_t *code, int x64, struct hook_insn *out)
{
    const uint8_t *p = code;
    int opsize16 = 0, rexw = 0, rip = -1;
    size_t n;
    uint8_t op;
    out->length = 0;
    out->rip_disp = -1;
    out->rel32 = -1;
    out->ends_flow = 0;
    for (;;) { /* legacy prefixes */
        op = *p;
        if (op == 0x66) {
            opsize16 = 1;
            p++;
        } else if (op == 0x67 || op == 0xF2 || op == 0xF3 || op == 0x2E || op == 0x3E || op == 0x26
                   || op == 0x36 || op == 0x64 || op == 0x65 || op == 0xF0) {
            p++;
        } else {
            break;
        }
        if (p - code > 4)
            return;
    }
    if (x64 && (*p & 0xF0) == 0x40) { /* REX */
        rexw = (*p & 0x08) != 0;
        p++;
    }
    op = *p++;
    if (op == 0x0F) {
        uint8_t op2 = *p++;
        if (op2 == 0x05 || op2 == 0x0B || op2 == 0x31 || op2 == 0xA2) {
            n = 0;
        } else if (op2 >= 0x80 && op2 <= 0x8F) {
            return; /* jcc rel32: not relocated here */
        } else if (op2 == 0x38 || op2 == 0x3A || op2 == 0x0F) {
            return; /* three-byte opcodes / 3DNow!: not needed for prologues */
        } else {
            n = modrm_len(p, x64, &rip);
            if (op2 == 0x70 || op2 == 0x71 || op2 == 0x72 || op2 == 0x73 || op2 == 0xC2 || op2 == 0xC4
                || op2 == 0xC5 || op2 == 0xC6 || op2 == 0xA4 || op2 == 0xAC || op2 == 0xBA)
                n += 1;
        }
        if (rip >= 0)
            out->rip_disp = (int)((p - code) + rip);
        out->length = (size_t)(p - code) + n;
        return;
    }
    if (op >= 0x50 && op <= 0x5F) { /* push/pop reg */
        n = 0;
    } else if (op == 0x90) {
        n = 0;
    } else if (op == 0xC3 || op == 0xCC) {
        out->ends_flow = 1;
        n = 0;
    } else if (op == 0xC2) {
        out->ends_flow = 1;
        n = 2;
    } else if ((op <= 0x3F && (op & 7) <= 3) || op == 0x84 || op == 0x85 || op == 0x86 || op == 0x87
               || op == 0x88 || op == 0x89 || op == 0x8A || op == 0x8B || op == 0x8D || op == 0x8F
               || (op == 0x63 && x64) || (op >= 0xD0 && op <= 0xD3)) {
        n = modrm_len(p, x64, &rip);
    } else if ((op <= 0x3F && (op & 7) == 4) || op == 0xA8 || op == 0x6A || (op >= 0xB0 && op <= 0xB7)) {
        n = 1;
    } else if ((op <= 0x3F && (op & 7) == 5) || op == 0xA9 || op == 0x68) {
        n = opsize16 ? 2 : 4;
    } else if (op >= 0xB8 && op <= 0xBF) {
        n = rexw ? 8 : (opsize16 ? 2 : 4);
    } else if (op == 0x80 || op == 0x83 || op == 0xC0 || op == 0xC1 || op == 0xC6 || op == 0x6B
               || (op == 0x82 && !x64)) {
        n = modrm_len(p, x64, &rip) + 1;
    } else if (op == 0x81 || op == 0xC7 || op == 0x69) {
        n = modrm_len(p, x64, &rip) + (opsize16 ? 2 : 4);
    } else if (op == 0xF6 || op == 0xF7) {
        uint8_t reg = (uint8_t)((p[0] >> 3) & 7);
        n = modrm_len(p, x64, &rip);
        if (reg <= 1)
            n += op == 0xF6 ? 1 : (opsize16 ? 2 : 4);
    } else if (op == 0xFE || op == 0xFF) {
        uint8_t reg = (uint8_t)((p[0] >> 3) & 7);
        n = modrm_len(p, x64, &rip);
        if (op == 0xFF && (reg == 4 || reg == 5))
            out->ends_flow = 1;
    } else if (op == 0xE8 || op == 0xE9) {
        out->rel32 = (int)(p - code);
        out->ends_flow = op == 0xE9;
        n = 4;
    } else {
        return; /* short jumps, jcc rel8, string ops, ...: not stolen */
    }
    if (rip >= 0)
        out->rip_disp = (int)((p - code) + rip);
    out->length = (size_t)(p - code) + n;
}
