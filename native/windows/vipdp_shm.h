/* Layout of the named shared-memory block the launcher (viprun.exe) writes for each process it
 * starts, and that sessionnet_vipdp.dll reads on attach. One block per process; the name is
 * derived from the process ID so a child started by a hooked CreateProcess gets its own.
 *
 * Name: "Local\\sessionnet-vipdp-<PID in decimal>" (the session's own object namespace). */
#ifndef SESSIONNET_VIPDP_SHM_H
#define SESSIONNET_VIPDP_SHM_H

#include <stdint.h>
#include <wchar.h>

#define VIPDP_SHM_MAGIC 0x50445056u /* "VPDP" */
#define VIPDP_SHM_VERSION 1u
#define VIPDP_SHM_NAME_FMT L"Local\\sessionnet-vipdp-%lu"
#define VIPDP_PATH_CHARS 520

struct vipdp_shm {
    uint32_t magic;      /* VIPDP_SHM_MAGIC */
    uint32_t version;    /* VIPDP_SHM_VERSION */
    uint32_t size;       /* sizeof(struct vipdp_shm) */
    uint32_t session_id; /* informational: loopback - 127.0.0.1 */
    uint32_t vip;        /* IPv4, host byte order, 0 = none */
    uint32_t loopback;   /* IPv4, host byte order */
    uint32_t client;     /* IPv4, host byte order, 0 = unknown */
    uint32_t mode;       /* enum vip_mode (vip_rules.h) */
    uint32_t flags;      /* enum vip_flags (vip_rules.h) */
    uint32_t debug;      /* 1: the DLL writes one line per decision to stderr */
    /* The DLLs a hooked CreateProcess injects into children (inherit_children). */
    wchar_t dll_x64[VIPDP_PATH_CHARS];
    wchar_t dll_x86[VIPDP_PATH_CHARS];
};

#endif
