/* A small x86/x64 instruction-length decoder for the prologues compilers emit (push/pop, mov,
 * lea, sub/add/and/cmp/test with immediates, endbr64, nop). Pure C, no Windows headers, so the
 * unit tests can run it on the host. It only has to be right for what it accepts: anything it
 * does not know returns 0 and the caller falls back to patching import tables. */
#ifndef SESSIONNET_HOOK_DECODE_H
#define SESSIONNET_HOOK_DECODE_H

#include <stddef.h>
#include <stdint.h>

struct hook_insn {
    size_t length;  /* 0: not understood */
    int rip_disp;   /* offset of a RIP-relative disp32 to relocate, -1 if none (x64) */
    int rel32;      /* offset of a rel32 operand (call/jmp) to relocate, -1 if none */
    int ends_flow;  /* ret/jmp/int3: the function may end here, do not steal past it */
};

/* Decodes one instruction at code (64-bit mode when x64 != 0). */
void hook_decode(const uint8_t *code, int x64, struct hook_insn *out);

#endif
