/* See hook.h. Memory and module APIs: VirtualQuery/VirtualAlloc/VirtualProtect,
 * FlushInstructionCache (Microsoft Learn, "Memory Management Functions"); PE import directory
 * layout from the Microsoft "PE Format" specification. */
#include "hook.h"

#include <psapi.h>
#include <string.h>

#include "hook_decode.h"

#if defined(_WIN64)
#define HOOK_X64 1
#else
#define HOOK_X64 0
#endif

#define SLOT_SIZE 96
#define RELAY_SIZE 65536

struct relay {
    unsigned char *base;
    size_t used;
};

static struct relay relays[16];
static int relay_count;

static int within_2gb(const unsigned char *a, const unsigned char *b)
{
    long long d = (long long)(a - b);
    return d > -0x7FFF0000LL && d < 0x7FFF0000LL;
}

static unsigned char *alloc_near(unsigned char *target)
{
#if HOOK_X64
    SYSTEM_INFO si;
    MEMORY_BASIC_INFORMATION mbi;
    ULONG_PTR gran, lo, hi, addr;
    GetSystemInfo(&si);
    gran = si.dwAllocationGranularity;
    lo = (ULONG_PTR)target > 0x7FF00000ULL ? (ULONG_PTR)target - 0x7FF00000ULL : gran;
    hi = (ULONG_PTR)target + 0x7FF00000ULL;
    /* Search downwards first (below the module), then upwards. */
    for (addr = ((ULONG_PTR)target & ~(gran - 1)) - gran; addr > lo; addr -= gran) {
        if (!VirtualQuery((void *)addr, &mbi, sizeof(mbi)))
            break;
        if (mbi.State == MEM_FREE) {
            void *p = VirtualAlloc((void *)addr, RELAY_SIZE, MEM_RESERVE | MEM_COMMIT, PAGE_EXECUTE_READWRITE);
            if (p)
                return p;
        }
    }
    for (addr = ((ULONG_PTR)target & ~(gran - 1)) + gran; addr < hi; addr += gran) {
        if (!VirtualQuery((void *)addr, &mbi, sizeof(mbi)))
            break;
        if (mbi.State == MEM_FREE) {
            void *p = VirtualAlloc((void *)addr, RELAY_SIZE, MEM_RESERVE | MEM_COMMIT, PAGE_EXECUTE_READWRITE);
            if (p)
                return p;
        }
    }
    return NULL;
#else
    (void)target;
    return VirtualAlloc(NULL, RELAY_SIZE, MEM_RESERVE | MEM_COMMIT, PAGE_EXECUTE_READWRITE);
#endif
}

static unsigned char *slot_near(unsigned char *target)
{
    int i;
    unsigned char *p;
    for (i = 0; i < relay_count; i++) {
        if (relays[i].used + SLOT_SIZE <= RELAY_SIZE && (!HOOK_X64 || within_2gb(relays[i].base, target))) {
            p = relays[i].base + relays[i].used;
            relays[i].used += SLOT_SIZE;
            return p;
        }
    }
    if (relay_count == (int)(sizeof(relays) / sizeof(relays[0])))
        return NULL;
    p = alloc_near(target);
    if (!p)
        return NULL;
    relays[relay_count].base = p;
    relays[relay_count].used = SLOT_SIZE;
    relay_count++;
    return p;
}

static void put_abs_jump(unsigned char *at, const void *dest)
{
#if HOOK_X64
    /* jmp qword ptr [rip+0]; dq dest */
    at[0] = 0xFF;
    at[1] = 0x25;
    memset(at + 2, 0, 4);
    memcpy(at + 6, &dest, 8);
#else
    LONG rel = (LONG)((const unsigned char *)dest - (at + 5));
    at[0] = 0xE9;
    memcpy(at + 1, &rel, 4);
#endif
}

static int relocate32(unsigned char *copy, const unsigned char *orig_insn, unsigned char *new_insn, int off,
                      size_t len)
{
    LONG disp;
    long long target, nd;
    memcpy(&disp, orig_insn + off, 4);
    target = (long long)(INT_PTR)(orig_insn + len) + disp;
    nd = target - (long long)(INT_PTR)(new_insn + len);
    if (nd > 0x7FFFFFFFLL || nd < -0x7FFFFFFFLL - 1)
        return -1;
    disp = (LONG)nd;
    memcpy(copy + off, &disp, 4);
    return 0;
}

int hook_inline(void *target, void *detour, void **original)
{
    unsigned char *t = target, *slot, *tramp;
    size_t stolen = 0;
    DWORD old;
    struct hook_insn insn;
    if (!t)
        return -1;
    while (stolen < 5) {
        hook_decode(t + stolen, HOOK_X64, &insn);
        if (insn.length == 0 || stolen + insn.length > 32)
            return -1;
        if (insn.ends_flow && stolen + insn.length < 5)
            return -1;
        stolen += insn.length;
    }
    slot = slot_near(t);
    if (!slot)
        return -1;
    /* Slot layout: [0..47] trampoline (stolen bytes + jump back), [48..] relay to detour. */
    tramp = slot;
    memcpy(tramp, t, stolen);
    {
        size_t at = 0;
        while (at < stolen) {
            hook_decode(t + at, HOOK_X64, &insn);
            if (insn.rip_disp >= 0
                && relocate32(tramp + at, t + at, tramp + at, insn.rip_disp, insn.length) != 0)
                return -1;
            if (insn.rel32 >= 0 && relocate32(tramp + at, t + at, tramp + at, insn.rel32, insn.length) != 0)
                return -1;
            at += insn.length;
        }
    }
    put_abs_jump(tramp + stolen, t + stolen);
    put_abs_jump(slot + 48, detour);
    FlushInstructionCache(GetCurrentProcess(), slot, SLOT_SIZE);
    if (!VirtualProtect(t, stolen, PAGE_EXECUTE_READWRITE, &old))
        return -1;
    {
        LONG rel = (LONG)((slot + 48) - (t + 5));
        t[0] = 0xE9;
        memcpy(t + 1, &rel, 4);
        if (stolen > 5)
            memset(t + 5, 0xCC, stolen - 5);
    }
    VirtualProtect(t, stolen, old, &old);
    FlushInstructionCache(GetCurrentProcess(), t, stolen);
    *original = tramp;
    return 0;
}

static int patch_module_iat(HMODULE module, const char *dll, const char *func, void *detour, void **original)
{
    unsigned char *base = (unsigned char *)module;
    IMAGE_DOS_HEADER *dos = (IMAGE_DOS_HEADER *)base;
    IMAGE_NT_HEADERS *nt;
    IMAGE_DATA_DIRECTORY *dir;
    IMAGE_IMPORT_DESCRIPTOR *imp;
    int patched = 0;
    if (dos->e_magic != IMAGE_DOS_SIGNATURE)
        return 0;
    nt = (IMAGE_NT_HEADERS *)(base + dos->e_lfanew);
    if (nt->Signature != IMAGE_NT_SIGNATURE)
        return 0;
    dir = &nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
    if (!dir->VirtualAddress || !dir->Size)
        return 0;
    for (imp = (IMAGE_IMPORT_DESCRIPTOR *)(base + dir->VirtualAddress); imp->Name; imp++) {
        IMAGE_THUNK_DATA *names, *slots;
        if (lstrcmpiA((const char *)(base + imp->Name), dll) != 0)
            continue;
        names = (IMAGE_THUNK_DATA *)(base + (imp->OriginalFirstThunk ? imp->OriginalFirstThunk : imp->FirstThunk));
        slots = (IMAGE_THUNK_DATA *)(base + imp->FirstThunk);
        for (; names->u1.AddressOfData; names++, slots++) {
            IMAGE_IMPORT_BY_NAME *byname;
            DWORD old;
            if (IMAGE_SNAP_BY_ORDINAL(names->u1.Ordinal))
                continue;
            byname = (IMAGE_IMPORT_BY_NAME *)(base + names->u1.AddressOfData);
            if (strcmp((const char *)byname->Name, func) != 0)
                continue;
            if (!VirtualProtect(&slots->u1.Function, sizeof(void *), PAGE_READWRITE, &old))
                continue;
            if (!*original)
                *original = (void *)slots->u1.Function;
            slots->u1.Function = (ULONG_PTR)detour;
            VirtualProtect(&slots->u1.Function, sizeof(void *), old, &old);
            patched++;
        }
    }
    return patched;
}

int hook_iat(const char *dll, const char *func, void *detour, void **original)
{
    HMODULE mods[512];
    DWORD needed = 0, i, count;
    int patched = 0;
    HMODULE self = NULL;
    if (!*original) {
        HMODULE target = GetModuleHandleA(dll);
        if (target)
            *original = (void *)GetProcAddress(target, func);
    }
    GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                       (LPCSTR)(void *)hook_iat, &self);
    if (!EnumProcessModules(GetCurrentProcess(), mods, sizeof(mods), &needed))
        return 0;
    count = needed / sizeof(HMODULE);
    if (count > 512)
        count = 512;
    for (i = 0; i < count; i++)
        if (mods[i] != self)
            patched += patch_module_iat(mods[i], dll, func, detour, original);
    return patched;
}

int hook_function(HMODULE module, const char *dll, const char *func, void *detour, void **original)
{
    void *target = (void *)GetProcAddress(module, func);
    *original = NULL;
    if (target && hook_inline(target, detour, original) == 0)
        return 1;
    *original = target;
    if (hook_iat(dll, func, detour, original) > 0)
        return 2;
    return 0;
}
