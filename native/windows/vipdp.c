/* sessionnet_vipdp.dll: applies docs/translation-table.md to the Winsock calls of the process it
 * is loaded into. The launcher (viprun.exe) writes this process's settings to the shared-memory
 * block "Local\\sessionnet-vipdp-<PID>" (vipdp_shm.h) and loads the DLL while the process is
 * suspended; on attach the DLL copies the settings and hooks ws2_32 (and CreateProcess for
 * inherit_children). Every decision comes from vip_rules.c, the C form of the table.
 *
 * Winsock references (Microsoft Learn, winsock2.h / mswsock.h): bind, connect, WSAConnect,
 * WSAIoctl SIO_GET_EXTENSION_FUNCTION_POINTER (WSAID_CONNECTEX, WSAID_ACCEPTEX,
 * WSAID_GETACCEPTEXSOCKADDRS, WSAID_WSASENDMSG), WSAConnectByNameW/A, sendto, WSASendTo,
 * WSASendMsg, getsockname, getpeername, accept, WSAAccept, recvfrom, gethostbyname,
 * getaddrinfo, GetAddrInfoW; IPV6_V6ONLY (IPPROTO_IPV6 socket options). */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>

#include <stdio.h>
#include <string.h>

#include "hook.h"
#include "inject.h"
#include "vip_rules.h"
#include "vipdp_shm.h"

static struct vipdp_shm g_cfg;
static struct vip_settings g_s;
static int g_active;
static char g_host_names[3][256];

/* ---- the real functions (trampolines or saved IAT entries) ---- */
typedef int(WSAAPI *bind_fn)(SOCKET, const struct sockaddr *, int);
typedef int(WSAAPI *connect_fn)(SOCKET, const struct sockaddr *, int);
typedef int(WSAAPI *wsaconnect_fn)(SOCKET, const struct sockaddr *, int, LPWSABUF, LPWSABUF, LPQOS, LPQOS);
typedef int(WSAAPI *sendto_fn)(SOCKET, const char *, int, int, const struct sockaddr *, int);
typedef int(WSAAPI *wsasendto_fn)(SOCKET, LPWSABUF, DWORD, LPDWORD, DWORD, const struct sockaddr *, int,
                                  LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);
typedef int(WSAAPI *wsasendmsg_fn)(SOCKET, LPWSAMSG, DWORD, LPDWORD, LPWSAOVERLAPPED,
                                   LPWSAOVERLAPPED_COMPLETION_ROUTINE);
typedef int(WSAAPI *getname_fn)(SOCKET, struct sockaddr *, int *);
typedef SOCKET(WSAAPI *accept_fn)(SOCKET, struct sockaddr *, int *);
typedef SOCKET(WSAAPI *wsaaccept_fn)(SOCKET, struct sockaddr *, LPINT, LPCONDITIONPROC, DWORD_PTR);
typedef int(WSAAPI *recvfrom_fn)(SOCKET, char *, int, int, struct sockaddr *, int *);
typedef struct hostent *(WSAAPI *gethostbyname_fn)(const char *);
typedef int(WSAAPI *getaddrinfo_fn)(PCSTR, PCSTR, const ADDRINFOA *, PADDRINFOA *);
typedef int(WSAAPI *getaddrinfow_fn)(PCWSTR, PCWSTR, const ADDRINFOW *, PADDRINFOW *);
typedef int(WSAAPI *wsaioctl_fn)(SOCKET, DWORD, LPVOID, DWORD, LPVOID, DWORD, LPDWORD, LPWSAOVERLAPPED,
                                 LPWSAOVERLAPPED_COMPLETION_ROUTINE);
typedef BOOL(WSAAPI *byname_w_fn)(SOCKET, LPWSTR, LPWSTR, LPDWORD, LPSOCKADDR, LPDWORD, LPSOCKADDR,
                                  const struct timeval *, LPWSAOVERLAPPED);
typedef BOOL(WSAAPI *byname_a_fn)(SOCKET, LPCSTR, LPCSTR, LPDWORD, LPSOCKADDR, LPDWORD, LPSOCKADDR,
                                  const struct timeval *, LPWSAOVERLAPPED);
typedef BOOL(WINAPI *createprocessw_fn)(LPCWSTR, LPWSTR, LPSECURITY_ATTRIBUTES, LPSECURITY_ATTRIBUTES, BOOL,
                                        DWORD, LPVOID, LPCWSTR, LPSTARTUPINFOW, LPPROCESS_INFORMATION);
typedef BOOL(WINAPI *createprocessa_fn)(LPCSTR, LPSTR, LPSECURITY_ATTRIBUTES, LPSECURITY_ATTRIBUTES, BOOL,
                                        DWORD, LPVOID, LPCSTR, LPSTARTUPINFOA, LPPROCESS_INFORMATION);

static bind_fn real_bind;
static connect_fn real_connect;
static wsaconnect_fn real_WSAConnect;
static sendto_fn real_sendto;
static wsasendto_fn real_WSASendTo;
static wsasendmsg_fn real_WSASendMsg;
static getname_fn real_getsockname, real_getpeername;
static accept_fn real_accept;
static wsaaccept_fn real_WSAAccept;
static recvfrom_fn real_recvfrom;
static gethostbyname_fn real_gethostbyname;
static getaddrinfo_fn real_getaddrinfo;
static getaddrinfow_fn real_GetAddrInfoW;
static wsaioctl_fn real_WSAIoctl;
static byname_w_fn real_WSAConnectByNameW;
static byname_a_fn real_WSAConnectByNameA;
static LPFN_CONNECTEX real_ConnectEx;
static LPFN_GETACCEPTEXSOCKADDRS real_GetAcceptExSockaddrs;
static createprocessw_fn real_CreateProcessW;
static createprocessa_fn real_CreateProcessA;

static void debug(const char *fmt, ...)
{
    va_list ap;
    if (!g_cfg.debug)
        return;
    va_start(ap, fmt);
    fprintf(stderr, "vipdp[%lu]: ", (unsigned long)GetCurrentProcessId());
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    va_end(ap);
}

static const char *fmt4(uint32_t a, char buf[16])
{
    snprintf(buf, 16, "%u.%u.%u.%u", (unsigned)(a >> 24), (unsigned)((a >> 16) & 255), (unsigned)((a >> 8) & 255),
             (unsigned)(a & 255));
    return buf;
}

/* ---- socket address translation ---- */
enum { T_OK = 0, T_DENIED = 1 };

struct translated {
    struct sockaddr_storage addr;
    int len;
    struct sockaddr_storage source; /* family 0 = no implicit bind */
    int source_len;
    int changed;
    int error;          /* WSA error for T_DENIED */
    uint32_t original4; /* the IPv4 form of a C1/C4 target, for W1 */
    int has_original4;
};

/* IPV6_V6ONLY of an AF_INET6 socket (Windows creates them v6-only; a program opts into dual
 * stack by clearing it). */
static int is_v6only(SOCKET s)
{
    DWORD v = 1;
    int len = sizeof(v);
    if (s == INVALID_SOCKET || getsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, (char *)&v, &len) != 0)
        return 1;
    return v != 0;
}

static int refuse(struct translated *t, int refused, const char *rule)
{
    t->error = refused == VIP_NOT_AVAILABLE ? WSAEADDRNOTAVAIL : WSAEACCES;
    debug("%s: refused (%s)", rule, refused == VIP_NOT_AVAILABLE ? "WSAEADDRNOTAVAIL" : "WSAEACCES");
    return T_DENIED;
}

static int translate_sa(SOCKET s, int call, const struct sockaddr *sa, int len, struct translated *t)
{
    memset(t, 0, sizeof(*t));
    if (!sa || len <= 0 || len > (int)sizeof(t->addr))
        return T_OK;
    memcpy(&t->addr, sa, (size_t)len);
    t->len = len;
    if (sa->sa_family == AF_INET && len >= (int)sizeof(struct sockaddr_in)) {
        struct sockaddr_in *in = (struct sockaddr_in *)&t->addr;
        uint32_t a = ntohl(in->sin_addr.s_addr);
        struct vip_decision4 d;
        vip_decide4(&g_s, call, a, &d);
        if (d.refused)
            return refuse(t, d.refused, d.rule);
        if (!strcmp(d.rule, "C1")) {
            t->original4 = a;
            t->has_original4 = 1;
        }
        if (d.address != a) {
            char b1[16], b2[16];
            in->sin_addr.s_addr = htonl(d.address);
            t->changed = 1;
            debug("%s: %s -> %s", d.rule, fmt4(a, b1), fmt4(d.address, b2));
        }
        if (d.source) {
            struct sockaddr_in *src = (struct sockaddr_in *)&t->source;
            src->sin_family = AF_INET;
            src->sin_addr.s_addr = htonl(d.source);
            t->source_len = sizeof(*src);
        }
    } else if (sa->sa_family == AF_INET6 && len >= (int)sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&t->addr;
        struct vip_decision6 d;
        vip_decide6(&g_s, call, in6->sin6_addr.s6_addr, is_v6only(s), &d);
        if (d.refused)
            return refuse(t, d.refused, d.rule);
        if (!strcmp(d.rule, "C4")) {
            t->original4 = vip_is_v4mapped(in6->sin6_addr.s6_addr) ? vip_v4_of_mapped(in6->sin6_addr.s6_addr)
                           : IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)    ? VIP_LOCALHOST4
                                                                       : 0;
            t->has_original4 = 1;
        }
        if (memcmp(d.address, in6->sin6_addr.s6_addr, 16) != 0) {
            memcpy(in6->sin6_addr.s6_addr, d.address, 16);
            in6->sin6_scope_id = 0;
            t->changed = 1;
            debug("%s: IPv6 -> ::ffff:%u.%u.%u.%u", d.rule, d.address[12], d.address[13], d.address[14],
                  d.address[15]);
        }
        if (d.has_source) {
            struct sockaddr_in6 *src = (struct sockaddr_in6 *)&t->source;
            src->sin6_family = AF_INET6;
            memcpy(src->sin6_addr.s6_addr, d.source, 16);
            t->source_len = sizeof(*src);
        }
    }
    return T_OK;
}

/* The implicit bind of "src loopback" / "src vip": only on a socket not bound yet. */
static void bind_source(SOCKET s, const struct translated *t)
{
    struct sockaddr_storage cur;
    int len = sizeof(cur);
    int saved = WSAGetLastError();
    if (!t->source_len)
        return;
    if (real_getsockname(s, (struct sockaddr *)&cur, &len) == 0) {
        int bound = 0;
        if (cur.ss_family == AF_INET)
            bound = ((struct sockaddr_in *)&cur)->sin_addr.s_addr != 0 || ((struct sockaddr_in *)&cur)->sin_port != 0;
        else if (cur.ss_family == AF_INET6)
            bound = !IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&cur)->sin6_addr)
                    || ((struct sockaddr_in6 *)&cur)->sin6_port != 0;
        if (bound) {
            WSASetLastError(saved);
            return;
        }
    }
    if (t->source.ss_family == AF_INET6) {
        DWORD off = 0;
        setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&off, sizeof(off));
    }
    if (real_bind(s, (const struct sockaddr *)&t->source, t->source_len) != 0)
        debug("implicit source bind failed (%d); the system picks the source", WSAGetLastError());
    WSASetLastError(saved);
}

/* ---- rule W1: the Windows wildcard semantic ----
 * On Windows a 0.0.0.0 listener is reachable on 127.0.0.1. After B1 it sits on the session VIP
 * only, so a translated in-session connect to 127.0.0.1:PORT (or 0.0.0.0:PORT) goes to the VIP
 * when the session loopback's PORT is free but the session VIP's PORT is taken. Decided before
 * connecting, so it also holds for non-blocking sockets and ConnectEx. The probe is a bind of a
 * scratch TCP socket (WSAEADDRINUSE = taken), one socket call each; the listener tables of
 * iphlpapi would also work but cost tens of milliseconds per call under Wine. */
static int port_taken(uint32_t addr, u_short port_net)
{
    struct sockaddr_in in;
    SOCKET probe = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    int rc, err;
    if (probe == INVALID_SOCKET)
        return 0;
    memset(&in, 0, sizeof(in));
    in.sin_family = AF_INET;
    in.sin_port = port_net;
    in.sin_addr.s_addr = htonl(addr);
    rc = real_bind(probe, (const struct sockaddr *)&in, sizeof(in));
    err = WSAGetLastError();
    closesocket(probe);
    return rc != 0 && err == WSAEADDRINUSE;
}

static void apply_wildcard_rule(struct translated *t)
{
    uint32_t vip;
    u_short port;
    if (!t->has_original4 || !t->len)
        return;
    vip = vip_connect_fallback4(&g_s, t->original4);
    if (!vip)
        return;
    port = t->addr.ss_family == AF_INET ? ((struct sockaddr_in *)&t->addr)->sin_port
                                        : ((struct sockaddr_in6 *)&t->addr)->sin6_port;
    {
        int saved = WSAGetLastError();
        int go = port_taken(vip, port) && !port_taken(g_s.loopback, port); /* VIP first: usually free */
        WSASetLastError(saved);
        if (!go)
            return;
    }
    debug("W1: the session loopback's port %u is free, the session VIP's is taken: connecting there",
          (unsigned)ntohs(port));
    if (t->addr.ss_family == AF_INET) {
        ((struct sockaddr_in *)&t->addr)->sin_addr.s_addr = htonl(vip);
        ((struct sockaddr_in *)&t->source)->sin_addr.s_addr = htonl(vip);
    } else {
        vip_make_mapped(vip, ((struct sockaddr_in6 *)&t->addr)->sin6_addr.s6_addr);
        vip_make_mapped(vip, ((struct sockaddr_in6 *)&t->source)->sin6_addr.s6_addr);
    }
}

/* R1/N1: what getsockname/getpeername/recvfrom/accept show. */
static void report_sa(int call, struct sockaddr *sa, int len)
{
    if (!sa || !(g_s.flags & VIP_FLAG_REPORT_ORIGINAL))
        return;
    if (sa->sa_family == AF_INET && len >= (int)sizeof(struct sockaddr_in)) {
        struct sockaddr_in *in = (struct sockaddr_in *)sa;
        struct vip_decision4 d;
        vip_decide4(&g_s, call, ntohl(in->sin_addr.s_addr), &d);
        in->sin_addr.s_addr = htonl(d.address);
    } else if (sa->sa_family == AF_INET6 && len >= (int)sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
        struct vip_decision6 d;
        vip_decide6(&g_s, call, in6->sin6_addr.s6_addr, 1, &d);
        memcpy(in6->sin6_addr.s6_addr, d.address, 16);
    }
}

/* ---- hooks ---- */
static int WSAAPI my_bind(SOCKET s, const struct sockaddr *name, int namelen)
{
    struct translated t;
    if (translate_sa(s, VIP_CALL_BIND, name, namelen, &t) == T_DENIED) {
        WSASetLastError(t.error);
        return SOCKET_ERROR;
    }
    if (!t.changed)
        return real_bind(s, name, namelen);
    return real_bind(s, (const struct sockaddr *)&t.addr, t.len);
}

static int WSAAPI my_connect(SOCKET s, const struct sockaddr *name, int namelen)
{
    struct translated t;
    if (translate_sa(s, VIP_CALL_CONNECT, name, namelen, &t) == T_DENIED) {
        WSASetLastError(t.error);
        return SOCKET_ERROR;
    }
    if (!t.changed && !t.source_len)
        return real_connect(s, name, namelen);
    apply_wildcard_rule(&t);
    bind_source(s, &t);
    return real_connect(s, (const struct sockaddr *)&t.addr, t.len);
}

static int WSAAPI my_WSAConnect(SOCKET s, const struct sockaddr *name, int namelen, LPWSABUF cd, LPWSABUF ced,
                                LPQOS sq, LPQOS gq)
{
    struct translated t;
    if (translate_sa(s, VIP_CALL_CONNECT, name, namelen, &t) == T_DENIED) {
        WSASetLastError(t.error);
        return SOCKET_ERROR;
    }
    if (!t.changed && !t.source_len)
        return real_WSAConnect(s, name, namelen, cd, ced, sq, gq);
    apply_wildcard_rule(&t);
    bind_source(s, &t);
    return real_WSAConnect(s, (const struct sockaddr *)&t.addr, t.len, cd, ced, sq, gq);
}

static BOOL PASCAL my_ConnectEx(SOCKET s, const struct sockaddr *name, int namelen, PVOID buf, DWORD len,
                                LPDWORD sent, LPOVERLAPPED ov)
{
    struct translated t;
    if (translate_sa(s, VIP_CALL_CONNECT, name, namelen, &t) == T_DENIED) {
        WSASetLastError(t.error);
        return FALSE;
    }
    if (!t.changed)
        return real_ConnectEx(s, name, namelen, buf, len, sent, ov);
    apply_wildcard_rule(&t);
    return real_ConnectEx(s, (const struct sockaddr *)&t.addr, t.len, buf, len, sent, ov);
}

static int WSAAPI my_sendto(SOCKET s, const char *buf, int len, int flags, const struct sockaddr *to, int tolen)
{
    struct translated t;
    if (!to)
        return real_sendto(s, buf, len, flags, to, tolen);
    if (translate_sa(s, VIP_CALL_SENDTO, to, tolen, &t) == T_DENIED) {
        WSASetLastError(t.error);
        return SOCKET_ERROR;
    }
    if (!t.changed && !t.source_len)
        return real_sendto(s, buf, len, flags, to, tolen);
    bind_source(s, &t);
    return real_sendto(s, buf, len, flags, (const struct sockaddr *)&t.addr, t.len);
}

static int WSAAPI my_WSASendTo(SOCKET s, LPWSABUF bufs, DWORD n, LPDWORD sent, DWORD flags, const struct sockaddr *to,
                               int tolen, LPWSAOVERLAPPED ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE cr)
{
    struct translated t;
    if (!to)
        return real_WSASendTo(s, bufs, n, sent, flags, to, tolen, ov, cr);
    if (translate_sa(s, VIP_CALL_SENDTO, to, tolen, &t) == T_DENIED) {
        WSASetLastError(t.error);
        return SOCKET_ERROR;
    }
    if (!t.changed && !t.source_len)
        return real_WSASendTo(s, bufs, n, sent, flags, to, tolen, ov, cr);
    bind_source(s, &t);
    return real_WSASendTo(s, bufs, n, sent, flags, (const struct sockaddr *)&t.addr, t.len, ov, cr);
}

static int WSAAPI my_WSASendMsg(SOCKET s, LPWSAMSG msg, DWORD flags, LPDWORD sent, LPWSAOVERLAPPED ov,
                                LPWSAOVERLAPPED_COMPLETION_ROUTINE cr)
{
    struct translated t;
    LPSOCKADDR saved_name;
    INT saved_len;
    int rc;
    if (!msg || !msg->name)
        return real_WSASendMsg(s, msg, flags, sent, ov, cr);
    if (translate_sa(s, VIP_CALL_SENDTO, msg->name, msg->namelen, &t) == T_DENIED) {
        WSASetLastError(t.error);
        return SOCKET_ERROR;
    }
    if (!t.changed && !t.source_len)
        return real_WSASendMsg(s, msg, flags, sent, ov, cr);
    bind_source(s, &t);
    saved_name = msg->name;
    saved_len = msg->namelen;
    msg->name = (LPSOCKADDR)&t.addr;
    msg->namelen = t.len;
    rc = real_WSASendMsg(s, msg, flags, sent, ov, cr);
    msg->name = saved_name;
    msg->namelen = saved_len;
    return rc;
}

static int WSAAPI my_getsockname(SOCKET s, struct sockaddr *name, int *namelen)
{
    int rc = real_getsockname(s, name, namelen);
    if (rc == 0 && namelen)
        report_sa(VIP_CALL_GETSOCKNAME, name, *namelen);
    return rc;
}

static int WSAAPI my_getpeername(SOCKET s, struct sockaddr *name, int *namelen)
{
    int rc = real_getpeername(s, name, namelen);
    if (rc == 0 && namelen)
        report_sa(VIP_CALL_GETPEERNAME, name, *namelen);
    return rc;
}

static SOCKET WSAAPI my_accept(SOCKET s, struct sockaddr *addr, int *addrlen)
{
    SOCKET c = real_accept(s, addr, addrlen);
    if (c != INVALID_SOCKET && addr && addrlen)
        report_sa(VIP_CALL_GETPEERNAME, addr, *addrlen);
    return c;
}

static SOCKET WSAAPI my_WSAAccept(SOCKET s, struct sockaddr *addr, LPINT addrlen, LPCONDITIONPROC cond, DWORD_PTR data)
{
    SOCKET c = real_WSAAccept(s, addr, addrlen, cond, data);
    if (c != INVALID_SOCKET && addr && addrlen)
        report_sa(VIP_CALL_GETPEERNAME, addr, *addrlen);
    return c;
}

static void PASCAL my_GetAcceptExSockaddrs(PVOID buf, DWORD rlen, DWORD llen, DWORD plen, struct sockaddr **local,
                                           LPINT local_len, struct sockaddr **remote, LPINT remote_len)
{
    real_GetAcceptExSockaddrs(buf, rlen, llen, plen, local, local_len, remote, remote_len);
    if (local && *local && local_len)
        report_sa(VIP_CALL_GETSOCKNAME, *local, *local_len);
    if (remote && *remote && remote_len)
        report_sa(VIP_CALL_GETPEERNAME, *remote, *remote_len);
}

static int WSAAPI my_recvfrom(SOCKET s, char *buf, int len, int flags, struct sockaddr *from, int *fromlen)
{
    int rc = real_recvfrom(s, buf, len, flags, from, fromlen);
    if (rc != SOCKET_ERROR && from && fromlen)
        report_sa(VIP_CALL_RECVFROM, from, *fromlen);
    return rc;
}

static int WSAAPI my_WSAIoctl(SOCKET s, DWORD code, LPVOID in, DWORD inlen, LPVOID out, DWORD outlen, LPDWORD ret,
                              LPWSAOVERLAPPED ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE cr)
{
    static const GUID connectex = WSAID_CONNECTEX, sendmsg = WSAID_WSASENDMSG,
                      acceptaddrs = WSAID_GETACCEPTEXSOCKADDRS;
    int rc = real_WSAIoctl(s, code, in, inlen, out, outlen, ret, ov, cr);
    if (rc == 0 && code == SIO_GET_EXTENSION_FUNCTION_POINTER && in && inlen >= sizeof(GUID) && out
        && outlen >= sizeof(void *)) {
        void **fn = (void **)out;
        if (memcmp(in, &connectex, sizeof(GUID)) == 0 && *fn != (void *)my_ConnectEx) {
            real_ConnectEx = (LPFN_CONNECTEX)*fn;
            *fn = (void *)my_ConnectEx;
        } else if (memcmp(in, &acceptaddrs, sizeof(GUID)) == 0 && *fn != (void *)my_GetAcceptExSockaddrs) {
            real_GetAcceptExSockaddrs = (LPFN_GETACCEPTEXSOCKADDRS)*fn;
            *fn = (void *)my_GetAcceptExSockaddrs;
        } else if (memcmp(in, &sendmsg, sizeof(GUID)) == 0 && *fn != (void *)my_WSASendMsg) {
            if (!real_WSASendMsg)
                real_WSASendMsg = (wsasendmsg_fn)*fn;
            *fn = (void *)my_WSASendMsg;
        }
    }
    return rc;
}

/* ---- names (rules L1-L3) ---- */
static int name_kind(const char *name)
{
    char n[256];
    size_t len, i;
    if (!name)
        return VIP_NAME_OTHER;
    len = strlen(name);
    if (len == 0 || len >= sizeof(n))
        return VIP_NAME_OTHER;
    for (i = 0; i < len; i++)
        n[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    n[len] = 0;
    if (n[len - 1] == '.')
        n[--len] = 0;
    if (strcmp(n, "localhost") == 0 || strcmp(n, "localhost.localdomain") == 0)
        return VIP_NAME_LOCALHOST;
    for (i = 0; i < 3; i++)
        if (g_host_names[i][0] && strcmp(n, g_host_names[i]) == 0)
            return VIP_NAME_OWN_HOST;
    return VIP_NAME_OTHER;
}

static int name_kind_w(const wchar_t *name)
{
    char n[256];
    if (!name || !WideCharToMultiByte(CP_UTF8, 0, name, -1, n, sizeof(n), NULL, NULL))
        return VIP_NAME_OTHER;
    return name_kind(n);
}

static struct hostent *WSAAPI my_gethostbyname(const char *name)
{
    uint32_t a = vip_lookup(&g_s, name_kind(name));
    char b[16];
    if (!a)
        return real_gethostbyname(name);
    debug("gethostbyname(%s) -> %s", name, fmt4(a, b));
    return real_gethostbyname(fmt4(a, b));
}

static int WSAAPI my_getaddrinfo(PCSTR node, PCSTR service, const ADDRINFOA *hints, PADDRINFOA *res)
{
    uint32_t a = vip_lookup(&g_s, name_kind(node));
    char b[16], mapped[32];
    ADDRINFOA h;
    if (!a)
        return real_getaddrinfo(node, service, hints, res);
    memset(&h, 0, sizeof(h));
    if (hints)
        h = *hints;
    h.ai_flags |= AI_NUMERICHOST;
    h.ai_flags &= ~AI_CANONNAME;
    fmt4(a, b);
    debug("getaddrinfo(%s) -> %s", node, b);
    if (h.ai_family == AF_INET6) {
        snprintf(mapped, sizeof(mapped), "::ffff:%s", b);
        return real_getaddrinfo(mapped, service, &h, res);
    }
    h.ai_family = AF_INET;
    return real_getaddrinfo(b, service, &h, res);
}

static int WSAAPI my_GetAddrInfoW(PCWSTR node, PCWSTR service, const ADDRINFOW *hints, PADDRINFOW *res)
{
    uint32_t a = vip_lookup(&g_s, name_kind_w(node));
    wchar_t w[40];
    ADDRINFOW h;
    if (!a)
        return real_GetAddrInfoW(node, service, hints, res);
    memset(&h, 0, sizeof(h));
    if (hints)
        h = *hints;
    h.ai_flags |= AI_NUMERICHOST;
    h.ai_flags &= ~AI_CANONNAME;
    if (h.ai_family == AF_INET6) {
        _snwprintf(w, 40, L"::ffff:%u.%u.%u.%u", (unsigned)(a >> 24), (unsigned)((a >> 16) & 255),
                   (unsigned)((a >> 8) & 255), (unsigned)(a & 255));
    } else {
        h.ai_family = AF_INET;
        _snwprintf(w, 40, L"%u.%u.%u.%u", (unsigned)(a >> 24), (unsigned)((a >> 16) & 255), (unsigned)((a >> 8) & 255),
                   (unsigned)(a & 255));
    }
    w[39] = 0;
    return real_GetAddrInfoW(w, service, &h, res);
}

/* WSAConnectByName: a numeric or local name is translated like connect (C1, isolation, L1/L2);
 * other names go through unchanged. Returns 0 (pass through), 1 (use out), -1 (refused). */
static int socket_family(SOCKET s)
{
    WSAPROTOCOL_INFOW info;
    int len = sizeof(info);
    if (getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW, (char *)&info, &len) != 0)
        return AF_UNSPEC;
    return info.iAddressFamily;
}

/* An IPv4 answer for WSAConnectByName, v4-mapped on an AF_INET6 socket. */
static void byname_v4(SOCKET s, uint32_t a, char out[48])
{
    char b[16];
    fmt4(a, b);
    if (socket_family(s) == AF_INET6)
        snprintf(out, 48, "::ffff:%s", b);
    else
        snprintf(out, 48, "%s", b);
}

static int byname_target(SOCKET s, const char *node, char out[48])
{
    IN_ADDR a4;
    IN6_ADDR a6;
    uint32_t a;
    if (!node)
        return 0;
    if (inet_pton(AF_INET, node, &a4) == 1) {
        struct vip_decision4 d;
        vip_decide4(&g_s, VIP_CALL_CONNECT, ntohl(a4.s_addr), &d);
        if (d.refused)
            return -1;
        if (d.address == ntohl(a4.s_addr))
            return 0;
        byname_v4(s, d.address, out);
        return 1;
    }
    if (inet_pton(AF_INET6, node, &a6) == 1) {
        struct vip_decision6 d;
        vip_decide6(&g_s, VIP_CALL_CONNECT, a6.s6_addr, is_v6only(s), &d);
        if (d.refused)
            return -1;
        if (memcmp(d.address, a6.s6_addr, 16) == 0)
            return 0;
        snprintf(out, 48, "::ffff:%u.%u.%u.%u", d.address[12], d.address[13], d.address[14], d.address[15]);
        return 1;
    }
    a = vip_lookup(&g_s, name_kind(node));
    if (!a)
        return 0;
    byname_v4(s, a, out);
    return 1;
}

static BOOL WSAAPI my_WSAConnectByNameA(SOCKET s, LPCSTR node, LPCSTR service, LPDWORD ll, LPSOCKADDR la, LPDWORD rl,
                                        LPSOCKADDR ra, const struct timeval *tv, LPWSAOVERLAPPED ov)
{
    char out[48];
    int r = byname_target(s, node, out);
    if (r < 0) {
        WSASetLastError(WSAEACCES);
        return FALSE;
    }
    return real_WSAConnectByNameA(s, r ? out : node, service, ll, la, rl, ra, tv, ov);
}

static BOOL WSAAPI my_WSAConnectByNameW(SOCKET s, LPWSTR node, LPWSTR service, LPDWORD ll, LPSOCKADDR la,
                                        LPDWORD rl, LPSOCKADDR ra, const struct timeval *tv, LPWSAOVERLAPPED ov)
{
    char n[256], out[48];
    wchar_t w[48];
    int r = 0;
    if (node && WideCharToMultiByte(CP_UTF8, 0, node, -1, n, sizeof(n), NULL, NULL))
        r = byname_target(s, n, out);
    if (r < 0) {
        WSASetLastError(WSAEACCES);
        return FALSE;
    }
    if (r == 0)
        return real_WSAConnectByNameW(s, node, service, ll, la, rl, ra, tv, ov);
    MultiByteToWideChar(CP_UTF8, 0, out, -1, w, 48);
    return real_WSAConnectByNameW(s, w, service, ll, la, rl, ra, tv, ov);
}

/* ---- children (inherit_children) ---- */
static void adopt_child(PROCESS_INFORMATION *pi, DWORD flags)
{
    struct vipdp_shm cfg = g_cfg;
    HANDLE block;
    DWORD err;
    int bits = vipdp_process_bits(pi->hProcess);
#if defined(_WIN64)
    int mine = 64;
#else
    int mine = 32;
#endif
    const wchar_t *dll = bits == 64 ? g_cfg.dll_x64 : g_cfg.dll_x86;
    if (bits != mine || !dll[0]) {
        debug("child %lu is %d-bit: not translated (a hook DLL can load only into its own bitness)",
              (unsigned long)pi->dwProcessId, bits);
    } else {
        block = vipdp_write_settings(pi->dwProcessId, &cfg);
        if (!block) {
            debug("child %lu: cannot write its settings (%lu)", (unsigned long)pi->dwProcessId, GetLastError());
        } else {
            err = vipdp_inject(pi->hProcess, dll);
            if (err)
                debug("child %lu: DLL not loaded (error %lu)", (unsigned long)pi->dwProcessId, (unsigned long)err);
            else
                debug("child %lu translated", (unsigned long)pi->dwProcessId);
            CloseHandle(block);
        }
    }
    if (!(flags & CREATE_SUSPENDED))
        ResumeThread(pi->hThread);
}

static BOOL WINAPI my_CreateProcessW(LPCWSTR app, LPWSTR cmd, LPSECURITY_ATTRIBUTES pa, LPSECURITY_ATTRIBUTES ta,
                                     BOOL inherit, DWORD flags, LPVOID env, LPCWSTR dir, LPSTARTUPINFOW si,
                                     LPPROCESS_INFORMATION pi)
{
    if (!real_CreateProcessW(app, cmd, pa, ta, inherit, flags | CREATE_SUSPENDED, env, dir, si, pi))
        return FALSE;
    adopt_child(pi, flags);
    return TRUE;
}

static BOOL WINAPI my_CreateProcessA(LPCSTR app, LPSTR cmd, LPSECURITY_ATTRIBUTES pa, LPSECURITY_ATTRIBUTES ta,
                                     BOOL inherit, DWORD flags, LPVOID env, LPCSTR dir, LPSTARTUPINFOA si,
                                     LPPROCESS_INFORMATION pi)
{
    if (!real_CreateProcessA(app, cmd, pa, ta, inherit, flags | CREATE_SUSPENDED, env, dir, si, pi))
        return FALSE;
    adopt_child(pi, flags);
    return TRUE;
}

/* ---- attach ---- */
static int read_settings(void)
{
    wchar_t name[64];
    HANDLE mapping;
    const struct vipdp_shm *view;
    _snwprintf(name, 64, VIPDP_SHM_NAME_FMT, (unsigned long)GetCurrentProcessId());
    name[63] = 0;
    mapping = OpenFileMappingW(FILE_MAP_READ, FALSE, name);
    if (!mapping)
        return 0;
    view = MapViewOfFile(mapping, FILE_MAP_READ, 0, 0, sizeof(*view));
    if (!view) {
        CloseHandle(mapping);
        return 0;
    }
    if (view->magic == VIPDP_SHM_MAGIC && view->version == VIPDP_SHM_VERSION && view->size == sizeof(*view))
        g_cfg = *view;
    UnmapViewOfFile(view);
    CloseHandle(mapping);
    return g_cfg.magic == VIPDP_SHM_MAGIC;
}

static void lower_copy(char *dst, const char *src, size_t n)
{
    size_t i;
    for (i = 0; i + 1 < n && src[i]; i++)
        dst[i] = (char)((src[i] >= 'A' && src[i] <= 'Z') ? src[i] + 32 : src[i]);
    dst[i] = 0;
}

static void learn_host_names(void)
{
    static const COMPUTER_NAME_FORMAT kinds[3] = {ComputerNameDnsHostname, ComputerNameDnsFullyQualified,
                                                  ComputerNameNetBIOS};
    int i;
    for (i = 0; i < 3; i++) {
        char buf[256];
        DWORD len = sizeof(buf);
        if (GetComputerNameExA(kinds[i], buf, &len))
            lower_copy(g_host_names[i], buf, sizeof(g_host_names[i]));
    }
}

#define HOOK(mod, dllname, fn) report_hook(#fn, hook_function(mod, dllname, #fn, (void *)my_##fn, (void **)&real_##fn))

static void report_hook(const char *fn, int how)
{
    debug("hook %s: %s", fn, how == 1 ? "inline" : how == 2 ? "import table" : "FAILED");
}

static void install(void)
{
    HMODULE ws = LoadLibraryW(L"ws2_32.dll");
    HMODULE k32 = GetModuleHandleW(L"kernel32.dll");
    if (!ws)
        return;
    HOOK(ws, "ws2_32.dll", bind);
    HOOK(ws, "ws2_32.dll", connect);
    HOOK(ws, "ws2_32.dll", WSAConnect);
    HOOK(ws, "ws2_32.dll", sendto);
    HOOK(ws, "ws2_32.dll", WSASendTo);
    HOOK(ws, "ws2_32.dll", WSASendMsg);
    HOOK(ws, "ws2_32.dll", getsockname);
    HOOK(ws, "ws2_32.dll", getpeername);
    HOOK(ws, "ws2_32.dll", accept);
    HOOK(ws, "ws2_32.dll", WSAAccept);
    HOOK(ws, "ws2_32.dll", recvfrom);
    HOOK(ws, "ws2_32.dll", gethostbyname);
    HOOK(ws, "ws2_32.dll", getaddrinfo);
    HOOK(ws, "ws2_32.dll", GetAddrInfoW);
    HOOK(ws, "ws2_32.dll", WSAIoctl);
    HOOK(ws, "ws2_32.dll", WSAConnectByNameA);
    HOOK(ws, "ws2_32.dll", WSAConnectByNameW);
    if (g_s.flags & VIP_FLAG_INHERIT_CHILDREN) {
        HOOK(k32, "kernel32.dll", CreateProcessW);
        HOOK(k32, "kernel32.dll", CreateProcessA);
    }
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
    (void)reserved;
    if (reason != DLL_PROCESS_ATTACH || g_active)
        return TRUE;
    DisableThreadLibraryCalls(inst);
    if (!read_settings())
        return TRUE; /* loaded without settings (e.g. by a tool): stay inert */
    g_s.vip = g_cfg.vip;
    g_s.loopback = g_cfg.loopback;
    g_s.client = g_cfg.client;
    g_s.mode = g_cfg.mode;
    g_s.flags = g_cfg.flags;
    learn_host_names();
    g_active = 1;
    install();
    return TRUE;
}
