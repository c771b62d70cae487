/* Shared by viprun.exe and sessionnet_vipdp.dll (children under inherit_children): write a
 * process's settings block and load the DLL into it while it is suspended. */
#ifndef SESSIONNET_INJECT_H
#define SESSIONNET_INJECT_H

#include <windows.h>

#include "vipdp_shm.h"

/* Creates the block "Local\\sessionnet-vipdp-<pid>" holding cfg. The returned handle keeps it
 * alive; close it once the DLL has read it (after vipdp_inject returns). NULL on failure. */
HANDLE vipdp_write_settings(DWORD pid, const struct vipdp_shm *cfg);

/* Loads dll into the (suspended, same-bitness) process: VirtualAllocEx + WriteProcessMemory +
 * CreateRemoteThread(LoadLibraryW). Returns 0, or a Win32 error code. */
DWORD vipdp_inject(HANDLE process, const wchar_t *dll);

/* 64 for an x64 process, 32 for a 32-bit one (WOW64 or a 32-bit OS). */
int vipdp_process_bits(HANDLE process);

/* 64, 32 or 0 (unknown) from the PE header of an executable file. */
int vipdp_image_bits(const wchar_t *path);

#endif
