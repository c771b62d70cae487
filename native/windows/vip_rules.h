/* The translation rules of docs/translation-table.md as pure C (no Windows headers), so the
 * same object is linked into sessionnet_vipdp.dll and into a host shared library that the
 * unit tests load with ctypes and compare against sessionnet_vip.engine.translation.translate.
 *
 * IPv4 addresses are uint32_t in host byte order (0 = "none"); IPv6 addresses are 16 bytes in
 * network order. Ports are never changed, so they do not appear here. */
#ifndef SESSIONNET_VIP_RULES_H
#define SESSIONNET_VIP_RULES_H

#include <stdint.h>

/* Mode values: the order of sessionnet_vip.engine.policy.Mode. */
enum vip_mode {
    VIP_MODE_NONE = 0,
    VIP_MODE_VIRTUAL_IP = 1,
    VIP_MODE_VIRTUAL_LOOPBACK = 2,
    VIP_MODE_PREFER_LOOPBACK = 3,
    VIP_MODE_CLIENT_ADDRESS = 4
};

enum vip_call {
    VIP_CALL_BIND = 0,
    VIP_CALL_CONNECT = 1,
    VIP_CALL_SENDTO = 2,
    VIP_CALL_GETSOCKNAME = 3,
    VIP_CALL_GETPEERNAME = 4,
    VIP_CALL_RECVFROM = 5
};

/* Why a call is refused (the table's "refused" cells). */
enum vip_refusal {
    VIP_ALLOWED = 0,
    VIP_REFUSED = 1,      /* I1: EPERM on Linux, WSAEACCES on Windows */
    VIP_NOT_AVAILABLE = 2 /* B6: EADDRNOTAVAIL / WSAEADDRNOTAVAIL */
};

/* What a looked-up name is (rules L1-L3). */
enum vip_name {
    VIP_NAME_LOCALHOST = 0,
    VIP_NAME_OWN_HOST = 1,
    VIP_NAME_OTHER = 2
};

enum vip_flags {
    VIP_FLAG_ISOLATE_LOOPBACK = 1,
    VIP_FLAG_REPORT_ORIGINAL = 2,
    VIP_FLAG_INHERIT_CHILDREN = 4
};

#define VIP_LOCALHOST4 0x7F000001u

struct vip_settings {
    uint32_t vip;      /* 0: none (pool exhausted) */
    uint32_t loopback; /* the session loopback, 127.0.0.(N+1) */
    uint32_t client;   /* 0: unknown */
    uint32_t mode;     /* enum vip_mode */
    uint32_t flags;    /* enum vip_flags */
};

/* Result of a socket-call decision. */
struct vip_decision4 {
    uint32_t address; /* the address to use instead (== input when untouched or refused) */
    uint32_t source;  /* local address to bind before connect/sendto, 0 = none */
    int refused;      /* enum vip_refusal */
    char rule[4];     /* "B1", ..., NUL-terminated */
};

struct vip_decision6 {
    uint8_t address[16];
    uint8_t source[16]; /* v4-mapped, all zero = none */
    int has_source;
    int refused;
    char rule[4];
};

/* Socket calls on an IPv4 address (rules I1, B1-B3, C1-C3, R1, N1). */
void vip_decide4(const struct vip_settings *s, int call, uint32_t address, struct vip_decision4 *out);

/* Socket calls on an IPv6 socket (rules I1, B4-B7, C4-C7, R1, N1): v4-mapped addresses, and
 * `::`/`::1` on a dual-stack socket (v6only == 0), follow the IPv4 rule of the embedded
 * address / 0.0.0.0 / 127.0.0.1, answered v4-mapped; `::1` cannot be bound on a v6-only
 * socket in a loopback mode (B6); other IPv6 addresses are untouched. */
void vip_decide6(const struct vip_settings *s, int call, const uint8_t address[16], int v6only,
                 struct vip_decision6 *out);

/* Rule W1 (Windows only): the address to retry a refused in-session connect to 127.0.0.1 or
 * 0.0.0.0 with (the session VIP, where a wildcard listener of the session sits), 0 for none. */
uint32_t vip_connect_fallback4(const struct vip_settings *s, uint32_t original);

/* Lookups (rules L1-L3): the IPv4 address to answer with, 0 = resolve normally. */
uint32_t vip_lookup(const struct vip_settings *s, int name_kind);

/* Helpers shared with the DLL. */
int vip_is_v4mapped(const uint8_t a[16]);
uint32_t vip_v4_of_mapped(const uint8_t a[16]);
void vip_make_mapped(uint32_t v4, uint8_t out[16]);

/* The loopback rule: session N -> 127.0.0.0 + N + 1 (session = address - 127.0.0.1). */
int vip_is_session_loopback(uint32_t address);

#endif
