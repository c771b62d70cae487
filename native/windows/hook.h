/* Our small inline hooker: a 5-byte relative jump over the decoded prologue of the target to a
 * relay allocated within +-2 GB, a trampoline holding the stolen (relocated) prologue, and
 * import-address-table patching as the fallback when a prologue is not understood. */
#ifndef SESSIONNET_HOOK_H
#define SESSIONNET_HOOK_H

#include <windows.h>

/* Redirects target to detour; *original receives a callable trampoline. 0 on success. */
int hook_inline(void *target, void *detour, void **original);

/* Patches every loaded module's import of dll!func to detour; *original receives the real
 * function. Returns the number of import slots patched. */
int hook_iat(const char *dll, const char *func, void *detour, void **original);

/* hook_inline, else hook_iat. Returns 1 (inline), 2 (IAT), 0 (neither). */
int hook_function(HMODULE module, const char *dll, const char *func, void *detour, void **original);

#endif
