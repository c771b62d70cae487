// SPDX-License-Identifier: GPL-2.0-only
/*
 * sessionnet virtual IP: the Linux data plane, cgroup sock_addr programs.
 *
 * The engine decides, these programs apply. Every program starts the same way:
 *   1. only SOCK_STREAM and SOCK_DGRAM sockets are looked at;
 *   2. the caller's session is its ancestor cgroup at the session level
 *      (bpf_get_current_ancestor_cgroup_id); a caller outside every session is left alone;
 *   3. the caller is translated, with a mode and options, when its thread-group ID is in the
 *      processes map for that session, or (session flag SNV_INHERIT) when it lives under the
 *      session's "vip" cgroup: then the session's inherit mode and flags apply.
 * Then each hook applies the rows of docs/translation-table.md (the reference is the Python
 * function sessionnet_vip.engine.translation.translate(); the tests run both on the same
 * vectors). IPv6 hooks apply the IPv4 rules to IPv4-mapped addresses and to dual-stack
 * sockets ("::" is 0.0.0.0, "::1" is 127.0.0.1 there); native IPv6 is left alone.
 *
 * Addresses in struct bpf_sock_addr and in the maps are in network byte order.
 * Kernel interfaces used: include/uapi/linux/bpf.h (struct bpf_sock_addr, helpers
 * get_current_ancestor_cgroup_id, bind, set_retval, skc_to_tcp_sock, skc_to_udp6_sock).
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/socket.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#define SNV_SOCK_STREAM 1
#define SNV_SOCK_DGRAM 2
#define SNV_EADDRNOTAVAIL 99
#define SNV_ENETUNREACH 101
#define SNV_AF_INET 2
#define SNV_AF_INET6 10

/* Session and process flags (sessionnet_vip.engine.linux.programs mirrors them). */
#define SNV_INHERIT (1u << 0)	     /* children under the vip cgroup are translated */
#define SNV_ISOLATE (1u << 1)	     /* refuse another session's loopback (rule I1) */
#define SNV_SOURCE_VIP (1u << 2)     /* virtual_ip: remote traffic leaves from the VIP */
#define SNV_REPORT (1u << 3)	     /* report the session loopback as 127.0.0.1 (R1) */
#define SNV_MODE_SHIFT 8	     /* session flags: bits 8-15 = mode of inherited children */
#define SNV_FORKED (1u << 16)	     /* process entry copied from its parent at fork() */

/* Modes (sessionnet_vip.engine.policy.Mode). */
#define SNV_NONE 0
#define SNV_VIRTUAL_IP 1
#define SNV_VIRTUAL_LOOPBACK 2
#define SNV_PREFER_LOOPBACK 3
#define SNV_CLIENT_ADDRESS 4

struct session_rec {
	__be32 vip;	   /* 0: the session has no VIP (pool exhausted) */
	__be32 loopback;   /* the session's virtual loopback address */
	__u32 flags;	   /* SNV_* for the session and its inherited children */
	__u32 session_id;
	__u64 vip_cgroup;  /* cgroup ID of <session>/vip */
};

struct proc_rec {
	__u64 session_cgroup; /* the session the entry belongs to (a reused PID elsewhere is not) */
	__u32 mode;	      /* SNV_VIRTUAL_IP ... */
	__u32 flags;	      /* SNV_SOURCE_VIP | SNV_REPORT for this process */
};

/* Sizes are set by the loader from the engine's configuration before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct session_rec);
} snv_sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct proc_rec);
} snv_procs SEC(".maps");

/* cgroup level of the session cgroups (the hierarchy root is 0); set by the loader. */
const volatile __u32 session_level = 1;

/* Just enough of the kernel's struct sock to read IPV6_V6ONLY (CO-RE, relocated by libbpf). */
struct sock_common___snv {
	unsigned char skc_ipv6only : 1;
} __attribute__((preserve_access_index));
struct sock___snv {
	struct sock_common___snv __sk_common;
} __attribute__((preserve_access_index));

struct who {
	struct session_rec *rec;
	__u32 mode;
	__u32 flags;
};

#define LOCALHOST4 bpf_htonl(0x7f000001)
#define MAPPED_WORD bpf_htonl(0x0000ffff)

static __always_inline int is_net127(__be32 a)
{
	return (bpf_ntohl(a) >> 24) == 127;
}

/* Fill *w; return 0 when the caller is in no session (leave the call alone). */
static __always_inline int identify(struct bpf_sock_addr *ctx, struct who *w)
{
	__u32 type = ctx->type;

	if (type != SNV_SOCK_STREAM && type != SNV_SOCK_DGRAM)
		return 0;
	__u64 cg = bpf_get_current_ancestor_cgroup_id(session_level);
	if (!cg)
		return 0;
	struct session_rec *rec = bpf_map_lookup_elem(&snv_sessions, &cg);
	if (!rec)
		return 0;
	w->rec = rec;
	w->mode = SNV_NONE;
	w->flags = 0;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct proc_rec *p = bpf_map_lookup_elem(&snv_procs, &tgid);
	if (p && p->session_cgroup == cg) {
		w->mode = p->mode;
		w->flags = p->flags;
	} else if ((rec->flags & SNV_INHERIT) &&
		   bpf_get_current_ancestor_cgroup_id(session_level + 1) == rec->vip_cgroup) {
		w->mode = (rec->flags >> SNV_MODE_SHIFT) & 0xff;
		w->flags = rec->flags;
	}
	return 1;
}

static __always_inline int loop_mode(__u32 mode)
{
	return mode == SNV_VIRTUAL_IP || mode == SNV_VIRTUAL_LOOPBACK || mode == SNV_PREFER_LOOPBACK;
}

/* Rule I1: another session's loopback (127/8 but not 127.0.0.1 nor the session's own). */
static __always_inline int isolated(const struct who *w, __be32 a)
{
	return (w->rec->flags & SNV_ISOLATE) && is_net127(a) && a != LOCALHOST4 &&
	       a != w->rec->loopback;
}

/* Rules B1/B2 (and B4/B5 through the IPv4 form): the address a bind gets, 0 = unchanged. */
static __always_inline __be32 bind_result(const struct who *w, __be32 a)
{
	if (a == 0) {
		if (w->mode == SNV_VIRTUAL_IP)
			return w->rec->vip;
		if (w->mode == SNV_PREFER_LOOPBACK)
			return w->rec->loopback;
		return 0;
	}
	if (a == LOCALHOST4 && loop_mode(w->mode))
		return w->rec->loopback;
	return 0;
}

/* Rules C1/C3 (C4/C6): destination (0 = unchanged) and source (0 = none) of a connect/send. */
static __always_inline void send_result(const struct who *w, __be32 a, __be32 *dst, __be32 *src)
{
	*dst = 0;
	*src = 0;
	if (!loop_mode(w->mode))
		return;
	if (a == 0 || a == LOCALHOST4) {
		*dst = w->rec->loopback;
		*src = w->rec->loopback;
	} else if (!is_net127(a) && w->mode == SNV_VIRTUAL_IP && (w->flags & SNV_SOURCE_VIP)) {
		*src = w->rec->vip;
	}
}

/* IPv6 forms. */
static __always_inline int is_mapped(const __u32 *a6)
{
	return a6[0] == 0 && a6[1] == 0 && a6[2] == MAPPED_WORD;
}

static __always_inline int is_any6(const __u32 *a6)
{
	return (a6[0] | a6[1] | a6[2] | a6[3]) == 0;
}

static __always_inline int is_lo6(const __u32 *a6)
{
	return (a6[0] | a6[1] | a6[2]) == 0 && a6[3] == bpf_htonl(1);
}

/* Whether the socket has IPV6_V6ONLY (it cannot hold IPv4-mapped addresses). */
static __always_inline int v6only(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	struct sock___snv *s;

	if (!sk)
		return 0;
	s = (struct sock___snv *)bpf_skc_to_tcp_sock(sk);
	if (!s)
		s = (struct sock___snv *)bpf_skc_to_udp6_sock(sk);
	if (!s)
		return 0;
	return BPF_CORE_READ_BITFIELD(&s->__sk_common, skc_ipv6only);
}

/*
 * The IPv4 address an IPv6 socket address stands for: the IPv4 inside ::ffff:a.b.c.d, or on a
 * dual-stack socket 0.0.0.0 for "::" and 127.0.0.1 for "::1". Returns 0 for native IPv6. The
 * socket's IPV6_V6ONLY is read only for "::" and "::1" (the other forms do not depend on it).
 */
static __always_inline int ipv4_form(struct bpf_sock_addr *ctx, const __u32 *a6, __be32 *a)
{
	if (is_mapped(a6)) {
		*a = a6[3];
		return 1;
	}
	if (is_any6(a6)) {
		*a = 0;
		return !v6only(ctx);
	}
	if (is_lo6(a6)) {
		*a = LOCALHOST4;
		return !v6only(ctx);
	}
	return 0;
}

static __always_inline void load6(struct bpf_sock_addr *ctx, __u32 *a6)
{
	a6[0] = ctx->user_ip6[0];
	a6[1] = ctx->user_ip6[1];
	a6[2] = ctx->user_ip6[2];
	a6[3] = ctx->user_ip6[3];
}

static __always_inline void store_mapped(struct bpf_sock_addr *ctx, __be32 a)
{
	ctx->user_ip6[0] = 0;
	ctx->user_ip6[1] = 0;
	ctx->user_ip6[2] = MAPPED_WORD;
	ctx->user_ip6[3] = a;
}

/* ---- IPv4 hooks ------------------------------------------------------------------------ */

SEC("cgroup/bind4")
int snv_bind4(struct bpf_sock_addr *ctx)
{
	struct who w;

	if (!identify(ctx, &w) || (!loop_mode(w.mode) && !(w.rec->flags & SNV_ISOLATE)))
		return 1;
	__be32 a = ctx->user_ip4;
	if (isolated(&w, a))
		return 0;
	__be32 r = bind_result(&w, a);
	if (r)
		ctx->user_ip4 = r;
	return 1;
}

static __always_inline int connect_or_send4(struct bpf_sock_addr *ctx, int send)
{
	struct who w;
	__be32 dst, src;

	if (!identify(ctx, &w) || (!loop_mode(w.mode) && !(w.rec->flags & SNV_ISOLATE)))
		return 1;
	__be32 a = ctx->user_ip4;
	if (isolated(&w, a))
		return 0;
	send_result(&w, a, &dst, &src);
	if (dst)
		ctx->user_ip4 = dst;
	if (!src)
		return 1;
	if (send) {
		if (ctx->msg_src_ip4 == 0) /* the socket has no source of its own yet */
			ctx->msg_src_ip4 = src;
	} else {
		struct sockaddr_in sin = {.sin_family = SNV_AF_INET, .sin_addr.s_addr = src};
		/* fails harmlessly (EINVAL) when the application bound the socket itself */
		bpf_bind(ctx, (struct sockaddr *)&sin, sizeof(sin));
	}
	return 1;
}

SEC("cgroup/connect4")
int snv_connect4(struct bpf_sock_addr *ctx)
{
	return connect_or_send4(ctx, 0);
}

SEC("cgroup/sendmsg4")
int snv_sendmsg4(struct bpf_sock_addr *ctx)
{
	return connect_or_send4(ctx, 1);
}

/* getsockname / getpeername / recvfrom: rule R1. */
static __always_inline int report4(struct bpf_sock_addr *ctx)
{
	struct who w;

	if (!identify(ctx, &w))
		return 1;
	if ((w.flags & SNV_REPORT) && loop_mode(w.mode) && ctx->user_ip4 == w.rec->loopback)
		ctx->user_ip4 = LOCALHOST4;
	return 1;
}

SEC("cgroup/recvmsg4")
int snv_recvmsg4(struct bpf_sock_addr *ctx)
{
	return report4(ctx);
}

SEC("cgroup/getsockname4")
int snv_getsockname4(struct bpf_sock_addr *ctx)
{
	return report4(ctx);
}

SEC("cgroup/getpeername4")
int snv_getpeername4(struct bpf_sock_addr *ctx)
{
	return report4(ctx);
}

/* ---- IPv6 hooks ------------------------------------------------------------------------ */

SEC("cgroup/bind6")
int snv_bind6(struct bpf_sock_addr *ctx)
{
	struct who w;
	__u32 a6[4];
	__be32 a;

	if (!identify(ctx, &w) || (!loop_mode(w.mode) && !(w.rec->flags & SNV_ISOLATE)))
		return 1;
	load6(ctx, a6);
	if (!ipv4_form(ctx, a6, &a)) {
		/* rule B6: a v6-only socket cannot hold the session loopback */
		if (is_lo6(a6) && loop_mode(w.mode)) {
			bpf_set_retval(-SNV_EADDRNOTAVAIL);
			return 0;
		}
		return 1;
	}
	if (is_mapped(a6) && isolated(&w, a))
		return 0;
	__be32 r = bind_result(&w, a);
	if (r)
		store_mapped(ctx, r);
	return 1;
}

static __always_inline int connect_or_send6(struct bpf_sock_addr *ctx, int send)
{
	struct who w;
	__u32 a6[4];
	__be32 a, dst, src;

	if (!identify(ctx, &w) || (!loop_mode(w.mode) && !(w.rec->flags & SNV_ISOLATE)))
		return 1;
	load6(ctx, a6);
	if (!ipv4_form(ctx, a6, &a))
		return 1;
	if (is_mapped(a6) && isolated(&w, a))
		return 0;
	/*
	 * Rule C8: the kernel refuses a sendmsg6 rewrite of "::1" / "::" to an IPv4-mapped address
	 * (udpv6_sendmsg: ENOTSUPP), so the datagram cannot reach the session loopback: say so.
	 */
	if (send && !is_mapped(a6) && loop_mode(w.mode)) {
		bpf_set_retval(-SNV_ENETUNREACH);
		return 0;
	}
	send_result(&w, a, &dst, &src);
	if (dst)
		store_mapped(ctx, dst);
	if (!src)
		return 1;
	if (send) {
		if ((ctx->msg_src_ip6[0] | ctx->msg_src_ip6[1] | ctx->msg_src_ip6[2] |
		     ctx->msg_src_ip6[3]) == 0) {
			ctx->msg_src_ip6[0] = 0;
			ctx->msg_src_ip6[1] = 0;
			ctx->msg_src_ip6[2] = MAPPED_WORD;
			ctx->msg_src_ip6[3] = src;
		}
	} else {
		struct sockaddr_in6 sin6 = {.sin6_family = SNV_AF_INET6};

		sin6.sin6_addr.in6_u.u6_addr32[2] = MAPPED_WORD;
		sin6.sin6_addr.in6_u.u6_addr32[3] = src;
		bpf_bind(ctx, (struct sockaddr *)&sin6, sizeof(sin6));
	}
	return 1;
}

SEC("cgroup/connect6")
int snv_connect6(struct bpf_sock_addr *ctx)
{
	return connect_or_send6(ctx, 0);
}

SEC("cgroup/sendmsg6")
int snv_sendmsg6(struct bpf_sock_addr *ctx)
{
	return connect_or_send6(ctx, 1);
}

static __always_inline int report6(struct bpf_sock_addr *ctx)
{
	struct who w;

	if (!identify(ctx, &w))
		return 1;
	if ((w.flags & SNV_REPORT) && loop_mode(w.mode) && ctx->user_ip6[0] == 0 &&
	    ctx->user_ip6[1] == 0 && ctx->user_ip6[2] == MAPPED_WORD &&
	    ctx->user_ip6[3] == w.rec->loopback)
		ctx->user_ip6[3] = LOCALHOST4;
	return 1;
}

SEC("cgroup/recvmsg6")
int snv_recvmsg6(struct bpf_sock_addr *ctx)
{
	return report6(ctx);
}

SEC("cgroup/getsockname6")
int snv_getsockname6(struct bpf_sock_addr *ctx)
{
	return report6(ctx);
}

SEC("cgroup/getpeername6")
int snv_getpeername6(struct bpf_sock_addr *ctx)
{
	return report6(ctx);
}

/* ---- the same program in a forked child ----------------------------------------------- */

/* Just enough of struct task_struct (CO-RE). */
struct task_struct___snv {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));

/*
 * A translated process that forks (a daemonizing server: fork, parent exits) runs the same
 * program in the child: the child gets the parent's entry, marked SNV_FORKED, before it can
 * make any call. Threads share the entry already (same tgid).
 */
SEC("tp_btf/sched_process_fork")
int snv_fork(__u64 *ctx)
{
	struct task_struct___snv *parent = (struct task_struct___snv *)ctx[0];
	struct task_struct___snv *child = (struct task_struct___snv *)ctx[1];
	__u32 ptgid = parent->tgid;
	__u32 ctgid = child->tgid;

	if (ptgid == ctgid)
		return 0;
	struct proc_rec *p = bpf_map_lookup_elem(&snv_procs, &ptgid);
	if (!p)
		return 0;
	struct proc_rec copy = *p;

	copy.flags |= SNV_FORKED;
	bpf_map_update_elem(&snv_procs, &ctgid, &copy, BPF_ANY);
	return 0;
}

/*
 * A forked child that executes another program is no longer the listed program: its copied
 * entry goes (the engine, told by the process-events connector, re-adds it if the new
 * program is listed). Entries the engine made itself stay.
 */
SEC("tp_btf/sched_process_exec")
int snv_exec(__u64 *ctx)
{
	struct task_struct___snv *task = (struct task_struct___snv *)ctx[0];
	__u32 tgid = task->tgid;
	struct proc_rec *p = bpf_map_lookup_elem(&snv_procs, &tgid);

	if (p && (p->flags & SNV_FORKED))
		bpf_map_delete_elem(&snv_procs, &tgid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
