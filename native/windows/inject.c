/* See inject.h. APIs: CreateFileMappingW/MapViewOfFile (named shared memory), VirtualAllocEx,
 * WriteProcessMemory, CreateRemoteThread, GetExitCodeThread, EnumProcessModulesEx,
 * GetModuleBaseNameW, IsWow64Process (Microsoft Learn). */
#include "inject.h"

#include <psapi.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

HANDLE vipdp_write_settings(DWORD pid, const struct vipdp_shm *cfg)
{
    wchar_t name[64];
    HANDLE mapping;
    void *view;
    _snwprintf(name, 64, VIPDP_SHM_NAME_FMT, (unsigned long)pid);
    name[63] = 0;
    mapping = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, sizeof(*cfg), name);
    if (!mapping)
        return NULL;
    view = MapViewOfFile(mapping, FILE_MAP_WRITE, 0, 0, sizeof(*cfg));
    if (!view) {
        CloseHandle(mapping);
        return NULL;
    }
    memcpy(view, cfg, sizeof(*cfg));
    UnmapViewOfFile(view);
    return mapping;
}

/* Whether a module named like dll's file is loaded in process. The remote LoadLibraryW thread's
 * exit code is a DWORD: on x64 it holds only the low 32 bits of the HMODULE, which are 0 for a
 * module loaded at a 4 GB boundary (possible under ASLR), so 0 is checked in the module list. */
static int module_loaded(HANDLE process, const wchar_t *dll)
{
#if defined(_WIN64)
    HMODULE mods[1024];
    DWORD need = 0, i;
    wchar_t name[MAX_PATH];
    const wchar_t *base = wcsrchr(dll, L'\\');
    base = base ? base + 1 : dll;
    if (!EnumProcessModulesEx(process, mods, sizeof(mods), &need, LIST_MODULES_ALL))
        return 0;
    for (i = 0; i < need / sizeof(HMODULE) && i < sizeof(mods) / sizeof(mods[0]); i++)
        if (GetModuleBaseNameW(process, mods[i], name, MAX_PATH) && !_wcsicmp(name, base))
            return 1;
    return 0;
#else
    (void)process; /* the exit code is the whole HMODULE: 0 is NULL */
    (void)dll;
    return 0;
#endif
}

DWORD vipdp_inject(HANDLE process, const wchar_t *dll)
{
    size_t bytes = (wcslen(dll) + 1) * sizeof(wchar_t);
    void *remote;
    HANDLE thread;
    DWORD code = 0, err = 0;
    LPTHREAD_START_ROUTINE load =
        (LPTHREAD_START_ROUTINE)(void *)GetProcAddress(GetModuleHandleW(L"kernel32.dll"), "LoadLibraryW");
    if (!load)
        return GetLastError();
    remote = VirtualAllocEx(process, NULL, bytes, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    if (!remote)
        return GetLastError();
    if (!WriteProcessMemory(process, remote, dll, bytes, NULL)) {
        err = GetLastError();
        VirtualFreeEx(process, remote, 0, MEM_RELEASE);
        return err;
    }
    thread = CreateRemoteThread(process, NULL, 0, load, remote, 0, NULL);
    if (!thread) {
        err = GetLastError();
        VirtualFreeEx(process, remote, 0, MEM_RELEASE);
        return err;
    }
    if (WaitForSingleObject(thread, 30000) != WAIT_OBJECT_0)
        err = WAIT_TIMEOUT;
    else if (!GetExitCodeThread(thread, &code))
        err = GetLastError();
    else if (code == 0 && !module_loaded(process, dll))
        err = ERROR_MOD_NOT_FOUND; /* LoadLibraryW returned NULL in the child */
    CloseHandle(thread);
    VirtualFreeEx(process, remote, 0, MEM_RELEASE);
    return err;
}

int vipdp_process_bits(HANDLE process)
{
    BOOL wow = FALSE;
#if defined(_WIN64)
    if (IsWow64Process(process, &wow) && wow)
        return 32;
    return 64;
#else
    BOOL self = FALSE;
    IsWow64Process(GetCurrentProcess(), &self);
    if (!self)
        return 32; /* a 32-bit OS */
    if (IsWow64Process(process, &wow) && wow)
        return 32;
    return 64;
#endif
}

int vipdp_image_bits(const wchar_t *path)
{
    HANDLE f = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0, NULL);
    IMAGE_DOS_HEADER dos;
    DWORD got = 0, sig = 0;
    IMAGE_FILE_HEADER fh;
    int bits = 0;
    if (f == INVALID_HANDLE_VALUE)
        return 0;
    if (ReadFile(f, &dos, sizeof(dos), &got, NULL) && got == sizeof(dos) && dos.e_magic == IMAGE_DOS_SIGNATURE
        && SetFilePointer(f, dos.e_lfanew, NULL, FILE_BEGIN) != INVALID_SET_FILE_POINTER
        && ReadFile(f, &sig, sizeof(sig), &got, NULL) && got == sizeof(sig) && sig == IMAGE_NT_SIGNATURE
        && ReadFile(f, &fh, sizeof(fh), &got, NULL) && got == sizeof(fh)) {
        if (fh.Machine == IMAGE_FILE_MACHINE_AMD64)
            bits = 64;
        else if (fh.Machine == IMAGE_FILE_MACHINE_I386)
            bits = 32;
    }
    CloseHandle(f);
    return bits;
}
