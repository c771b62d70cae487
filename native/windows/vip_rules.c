/* Pure rule core; see vip_rules.h. Kept free of Windows headers so the host build used by the
 * unit tests and the DLL compile the same code. */
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

void vip_decide4(const struct vip_settings *s, int call, uint32_t address, struct vip_decision4 *out)
{
    uint32_t mode = s->mode;
    out->address = address;
    out->source = 0;
    out->denied = 0;
    if (call == VIP_CALL_BIND) {
        if (address == 0) {
            set_rule(out->rule, "B1");
            if (mode == VIP_MODE_VIRTUAL_IP && s->vip != 0)
                out->address = s->vip;
            else if (mode == VIP_MODE_PREFER_LOOPBACK)
                out->address = s->loopback;
        } else if (address == VIP_LOCALHOST4) {
            set_rule(out->rule, "B2");
            if (is_loop_mode(mode))
                out->address = s->loopback;
        } else {
            set_rule(out->rule, "B3");
        }
        return;
    }
    if (call == VIP_CALL_CONNECT || call == VIP_CALL_SENDTO) {
        if (address == 0 || address == VIP_LOCALHOST4) {
            set_rule(out->rule, "C1");
            if (is_loop_mode(mode)) {
                out->address = s->loopback;
                out->source = s->loopback;
            }
        } else if (vip_is_session_loopback(address)) {
            set_rule(out->rule, "C2");
        } else {
            set_rule(out->rule, "C3");
            if (mode == VIP_MODE_VIRTUAL_IP)
                out->source = s->vip;
        }
        /* isolate_loopback: another session's loopback (every 127/8 address but 127.0.0.1 and
         * the session's own) is refused, for every mode of a process carrying the DLL. */
        if ((s->flags & VIP_FLAG_ISOLATE_LOOPBACK) && vip_is_session_loopback(out->address)
            && out->address != VIP_LOCALHOST4 && out->address != s->loopback)
            out->denied = 1;
        return;
    }
    set_rule(out->rule, "N1");
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

void vip_decide6(const struct vip_settings *s, int call, const uint8_t address[16], struct vip_decision6 *out)
{
    struct vip_decision4 d4;
    uint32_t v4;
    memcpy(out->address, address, 16);
    memset(out->source, 0, 16);
    out->has_source = 0;
    out->denied = 0;
    if (is_any6(address))
        v4 = 0;
    else if (is_loopback6(address))
        v4 = VIP_LOCALHOST4;
    else if (vip_is_v4mapped(address))
        v4 = vip_v4_of_mapped(address);
    else {
        /* A real IPv6 address: no IPv6 session address exists, nothing to translate. */
        set_rule(out->rule, call == VIP_CALL_BIND ? "B3" : (call == VIP_CALL_CONNECT || call == VIP_CALL_SENDTO) ? "C3" : "N1");
        return;
    }
    vip_decide4(s, call, v4, &d4);
    memcpy(out->rule, d4.rule, 4);
    out->denied = d4.denied;
    if (d4.address != v4)
        vip_make_mapped(d4.address, out->address);
    if (d4.source != 0) {
        vip_make_mapped(d4.source, out->source);
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

uint32_t vip_report4(const struct vip_settings *s, uint32_t address)
{
    if ((s->flags & VIP_FLAG_REPORT_ORIGINAL) && s->loopback != 0 && address == s->loopback)
        return VIP_LOCALHOST4;
    return address;
}

void vip_report6(const struct vip_settings *s, uint8_t address[16])
{
    if (vip_is_v4mapped(address)) {
        uint32_t v4 = vip_v4_of_mapped(address);
        uint32_t r = vip_report4(s, v4);
        if (r != v4)
            vip_make_mapped(r, address);
    }
}
