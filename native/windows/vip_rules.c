/* Pure rule core; see vip_rules.h. Kept free of Windows headers so the host build used by the
 * unit tests and the DLL compile the same code. The row order and cells are those of
 * sessionnet_vip.engine.translation.RULES (docs/translation-table.md). */
#include "vip_rules.h"

#include <string.h>

static int is_loop_mode(uint32_t mode)
{
    return mode == VIP_MODE_VIRTUAL_IP || mode == VIP_MODE_VIRTUAL_LOOPBACK || mode == VIP_MODE_PREFER_LOOPBACK;
}

int vip_is_session_loopback(uint32_t address)
{
    return (address & 0xFF000000u) == 0x7F000000u;
}

static void set_rule(char rule[4], const char *id)
{
    rule[0] = id[0];
    rule[1] = id[1];
    rule[2] = '\0';
    rule[3] = '\0';
}

static int is_send(int call)
{
    return call == VIP_CALL_CONNECT || call == VIP_CALL_SENDTO;
}

static int is_report(int call)
{
    return call == VIP_CALL_GETSOCKNAME || call == VIP_CALL_GETPEERNAME || call == VIP_CALL_RECVFROM;
}

/* I1: another session's loopback (by the loopback rule every 127/8 address but 127.0.0.1 and the
 * session's own belongs to some session). */
static int other_loopback(const struct vip_settings *s, uint32_t v4)
{
    return vip_is_session_loopback(v4) && v4 != VIP_LOCALHOST4 && v4 != s->loopback;
}

/* The cells of one row for the IPv4 address the row names: result and source (0 = untouched /
 * none), or a refusal. kind: 'B' bind-any (B1/B4), 'L' bind-localhost (B2/B5), 'X' B6,
 * 'H' send-to-this-host (C1/C4), 'R' send-remote (C3/C6), 'P' report (R1), '=' untouched. */
static void cells(const struct vip_settings *s, char kind, uint32_t *result, uint32_t *source, int *refused)
{
    uint32_t mode = s->mode;
    *result = 0;
    *source = 0;
    *refused = VIP_ALLOWED;
    switch (kind) {
    case 'B':
        if (mode == VIP_MODE_VIRTUAL_IP)
            *result = s->vip;
        else if (mode == VIP_MODE_PREFER_LOOPBACK)
            *result = s->loopback;
        break;
    case 'L':
        if (is_loop_mode(mode))
            *result = s->loopback;
        break;
    case 'X':
        if (is_loop_mode(mode))
            *refused = VIP_NOT_AVAILABLE;
        break;
    case 'H':
        if (is_loop_mode(mode))
            *result = *source = s->loopback;
        break;
    case 'R':
        if (mode == VIP_MODE_VIRTUAL_IP)
            *source = s->vip;
        break;
    case 'P':
        if (is_loop_mode(mode))
            *result = VIP_LOCALHOST4;
        break;
    default:
        break;
    }
}

void vip_decide4(const struct vip_settings *s, int call, uint32_t address, struct vip_decision4 *out)
{
    char kind = '=';
    uint32_t result, source;
    out->address = address;
    out->source = 0;
    out->refused = VIP_ALLOWED;
    if ((s->flags & VIP_FLAG_ISOLATE_LOOPBACK) && (call == VIP_CALL_BIND || is_send(call))
        && other_loopback(s, address)) {
        set_rule(out->rule, "I1");
        out->refused = VIP_REFUSED;
        return;
    }
    if ((s->flags & VIP_FLAG_REPORT_ORIGINAL) && is_report(call) && address == s->loopback) {
        set_rule(out->rule, "R1");
        kind = 'P';
    } else if (call == VIP_CALL_BIND) {
        if (address == 0) {
            set_rule(out->rule, "B1");
            kind = 'B';
        } else if (address == VIP_LOCALHOST4) {
            set_rule(out->rule, "B2");
            kind = 'L';
        } else {
            set_rule(out->rule, "B3");
        }
    } else if (is_send(call)) {
        if (address == 0 || address == VIP_LOCALHOST4) {
            set_rule(out->rule, "C1");
            kind = 'H';
        } else if (vip_is_session_loopback(address)) {
            set_rule(out->rule, "C2");
        } else {
            set_rule(out->rule, "C3");
            kind = 'R';
        }
    } else {
        set_rule(out->rule, "N1");
    }
    cells(s, kind, &result, &source, &out->refused);
    if (result)
        out->address = result;
    out->source = source;
}

int vip_is_v4mapped(const uint8_t a[16])
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    return memcmp(a, prefix, 12) == 0;
}

uint32_t vip_v4_of_mapped(const uint8_t a[16])
{
    return ((uint32_t)a[12] << 24) | ((uint32_t)a[13] << 16) | ((uint32_t)a[14] << 8) | (uint32_t)a[15];
}

void vip_make_mapped(uint32_t v4, uint8_t out[16])
{
    memset(out, 0, 10);
    out[10] = 0xFF;
    out[11] = 0xFF;
    out[12] = (uint8_t)(v4 >> 24);
    out[13] = (uint8_t)(v4 >> 16);
    out[14] = (uint8_t)(v4 >> 8);
    out[15] = (uint8_t)v4;
}

static int is_any6(const uint8_t a[16])
{
    static const uint8_t zero[16];
    return memcmp(a, zero, 16) == 0;
}

static int is_loopback6(const uint8_t a[16])
{
    static const uint8_t one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return memcmp(a, one, 16) == 0;
}

void vip_decide6(const struct vip_settings *s, int call, const uint8_t address[16], int v6only,
                 struct vip_decision6 *out)
{
    int mapped = vip_is_v4mapped(address), dual = !v6only;
    uint32_t v4 = mapped ? vip_v4_of_mapped(address) : 0;
    uint32_t result, source;
    char kind = '=';
    memcpy(out->address, address, 16);
    memset(out->source, 0, 16);
    out->has_source = 0;
    out->refused = VIP_ALLOWED;
    if ((s->flags & VIP_FLAG_ISOLATE_LOOPBACK) && mapped && (call == VIP_CALL_BIND || is_send(call))
        && other_loopback(s, v4)) {
        set_rule(out->rule, "I1");
        out->refused = VIP_REFUSED;
        return;
    }
    if ((s->flags & VIP_FLAG_REPORT_ORIGINAL) && mapped && is_report(call) && v4 == s->loopback) {
        set_rule(out->rule, "R1");
        kind = 'P';
    } else if (call == VIP_CALL_BIND) {
        if ((mapped && v4 == 0) || (is_any6(address) && dual)) {
            set_rule(out->rule, "B4");
            kind = 'B';
        } else if ((mapped && v4 == VIP_LOCALHOST4) || (is_loopback6(address) && dual)) {
            set_rule(out->rule, "B5");
            kind = 'L';
        } else if (is_loopback6(address)) {
            set_rule(out->rule, "B6");
            kind = 'X';
        } else {
            set_rule(out->rule, "B7");
        }
    } else if (is_send(call)) {
        if ((mapped && (v4 == 0 || v4 == VIP_LOCALHOST4)) || ((is_any6(address) || is_loopback6(address)) && dual)) {
            set_rule(out->rule, "C4");
            kind = 'H';
        } else if (!mapped) {
            set_rule(out->rule, "C7");
        } else if (vip_is_session_loopback(v4)) {
            set_rule(out->rule, "C5");
        } else {
            set_rule(out->rule, "C6");
            kind = 'R';
        }
    } else {
        set_rule(out->rule, "N1");
    }
    cells(s, kind, &result, &source, &out->refused);
    if (result)
        vip_make_mapped(result, out->address);
    if (source) {
        vip_make_mapped(source, out->source);
        out->has_source = 1;
    }
}

uint32_t vip_connect_fallback4(const struct vip_settings *s, uint32_t original)
{
    if (s->mode != VIP_MODE_VIRTUAL_IP || s->vip == 0)
        return 0;
    if (original != 0 && original != VIP_LOCALHOST4)
        return 0;
    return s->vip;
}

uint32_t vip_lookup(const struct vip_settings *s, int name_kind)
{
    uint32_t mode = s->mode;
    if (name_kind == VIP_NAME_LOCALHOST)
        return is_loop_mode(mode) ? s->loopback : 0;
    if (name_kind == VIP_NAME_OWN_HOST) {
        if (mode == VIP_MODE_VIRTUAL_IP)
            return s->vip;
        if (mode == VIP_MODE_PREFER_LOOPBACK)
            return s->loopback;
        if (mode == VIP_MODE_CLIENT_ADDRESS)
            return s->client;
    }
    return 0;
}
