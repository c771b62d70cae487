/* Test client for the Wine tests (built only for tests). Prints one "OK ..." or "ERR ..." line.
 * usage: vip_testclient.exe connect|wsaconnect|connectex|quit HOST PORT
 *        vip_testclient.exe byname NAME PORT        (WSAConnectByNameA)
 *        vip_testclient.exe udp|wsasendto|wsasendmsg HOST PORT  (a datagram + recvfrom)
 *        vip_testclient.exe lookup NAME             (getaddrinfo AF_INET + gethostbyname)
 *        vip_testclient.exe hostname
 *        vip_testclient.exe bind HOST PORT          (bind and print getsockname; IPv6 dual-stack)
 *        vip_testclient.exe bind6only HOST PORT     (the same on a v6-only socket, the Windows default)
 *        vip_testclient.exe spawn ARGS...           (runs itself with ARGS, returns its code)
 *        vip_testclient.exe spawnline COMMANDLINE   (CreateProcess of a whole command line)
 *        vip_testclient.exe bench HOST PORT N       (N binds of HOST:0, N connects to HOST:PORT)
 *
 * Diagnostics (for the Wine runner, tests/unit/windows_dataplane/conftest.py): the first thing
 * main does is print "START vip_testclient <pid>" to stderr, so a run without that line never
 * reached main (Wine or the launcher failed to start it). Every failure prints, besides its
 * "ERR" line on stdout, which call failed and its WSAGetLastError/GetLastError to stderr, and
 * exits with EXIT_FAILED (3) or EXIT_USAGE (2): codes the program uses for nothing else. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <shellapi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USAGE 2
#define EXIT_FAILED 3

static int make_addr(const char *host, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (strchr(host, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((u_short)port);
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
            return 0;
        return sizeof(*in6);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((u_short)port);
        if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
            return 0;
        return sizeof(*in);
    }
}

static void addr_text(const struct sockaddr *sa, char *out, size_t cap)
{
    char host[64] = "?";
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof(host));
        snprintf(out, cap, "%s:%u", host, ntohs(((const struct sockaddr_in *)sa)->sin_port));
    } else {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof(host));
        snprintf(out, cap, "[%s]:%u", host, ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
    }
}

/* A failed call: "ERR WHAT CODE" on stdout (what the tests compare) and, on stderr, which call
 * failed with its error code. Returns EXIT_FAILED. */
static int fail(const char *what, const char *call, long code)
{
    printf("ERR %s %ld\n", what, code);
    fprintf(stderr, "vip_testclient: %s failed: error %ld\n", call, code);
    return EXIT_FAILED;
}

/* A failed Winsock call (WSAGetLastError, read before anything else can change it). */
static int err_call(const char *what, const char *call)
{
    long code = WSAGetLastError();
    return fail(what, call, code);
}

/* A usage error: the reason on stderr, EXIT_USAGE. */
static int usage(const char *why)
{
    fprintf(stderr, "vip_testclient: %s; usage: see the comment at the top of vip_testclient.c\n", why);
    return EXIT_USAGE;
}

/* A socket of FAMILY/TYPE (AF_INET6 ones dual-stack); INVALID_SOCKET after printing why. */
static SOCKET new_socket(int family, int type)
{
    SOCKET s = socket(family, type, 0);
    if (s == INVALID_SOCKET) {
        err_call("socket", "socket()");
        return s;
    }
    if (family == AF_INET6) {
        DWORD off = 0; /* reach v4-mapped addresses too */
        if (setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&off, sizeof(off)) != 0) {
            err_call("setsockopt", "setsockopt(IPV6_V6ONLY=0)");
            closesocket(s);
            return INVALID_SOCKET;
        }
    }
    return s;
}

static int converse(SOCKET s, const char *say)
{
    char buf[512], local[96];
    struct sockaddr_storage ss;
    int len = sizeof(ss), got, total = 0;
    if (send(s, say, (int)strlen(say), 0) == SOCKET_ERROR)
        return err_call("send", "send()");
    while ((got = recv(s, buf + total, (int)sizeof(buf) - 1 - total, 0)) > 0)
        total += got;
    if (got == SOCKET_ERROR)
        return err_call("recv", "recv()");
    buf[total] = 0;
    if (total && buf[total - 1] == '\n')
        buf[total - 1] = 0;
    if (!total) {
        fprintf(stderr, "vip_testclient: recv() got end of stream: the server closed without answering\n");
        printf("ERR recv 0\n");
        return EXIT_FAILED;
    }
    if (getsockname(s, (struct sockaddr *)&ss, &len) != 0)
        return err_call("getsockname", "getsockname()");
    addr_text((struct sockaddr *)&ss, local, sizeof(local));
    printf("OK %s client=%s\n", buf, local);
    return 0;
}

/* HOST is not a numeric address of the expected kind. */
static int bad_address(const char *host)
{
    printf("ERR address 0\n");
    fprintf(stderr, "vip_testclient: '%s' is not a numeric IPv4 or IPv6 address (inet_pton)\n", host);
    return EXIT_FAILED;
}

static int do_connect(const char *how, const char *host, int port)
{
    struct sockaddr_storage ss;
    int len = make_addr(host, port, &ss);
    SOCKET s;
    if (!len)
        return bad_address(host);
    s = new_socket(ss.ss_family, SOCK_STREAM);
    if (s == INVALID_SOCKET)
        return EXIT_FAILED;
    if (!strcmp(how, "wsaconnect")) {
        if (WSAConnect(s, (struct sockaddr *)&ss, len, NULL, NULL, NULL, NULL) != 0)
            return err_call("connect", "WSAConnect()");
    } else if (!strcmp(how, "connectex")) {
        GUID guid = WSAID_CONNECTEX;
        LPFN_CONNECTEX fn = NULL;
        DWORD bytes = 0, flags = 0;
        struct sockaddr_storage any;
        OVERLAPPED ov;
        memset(&any, 0, sizeof(any));
        any.ss_family = ss.ss_family;
        if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof(guid), &fn, sizeof(fn), &bytes, NULL, NULL))
            return err_call("ioctl", "WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, WSAID_CONNECTEX)");
        /* ConnectEx needs a bound socket: the wildcard of the family, port 0 */
        if (bind(s, (struct sockaddr *)&any, len) != 0)
            return err_call("bind", "bind() of the wildcard before ConnectEx");
        memset(&ov, 0, sizeof(ov));
        ov.hEvent = WSACreateEvent();
        if (ov.hEvent == WSA_INVALID_EVENT)
            return err_call("event", "WSACreateEvent()");
        if (!fn(s, (struct sockaddr *)&ss, len, NULL, 0, NULL, &ov) && WSAGetLastError() != WSA_IO_PENDING)
            return err_call("connect", "ConnectEx()");
        /* wait for the completion (fWait), then its status */
        if (!WSAGetOverlappedResult(s, &ov, &bytes, TRUE, &flags))
            return err_call("connect", "WSAGetOverlappedResult() of ConnectEx");
        WSACloseEvent(ov.hEvent);
        if (setsockopt(s, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0) != 0)
            return err_call("setsockopt", "setsockopt(SO_UPDATE_CONNECT_CONTEXT) after ConnectEx");
    } else {
        if (connect(s, (struct sockaddr *)&ss, len) != 0)
            return err_call("connect", "connect()");
    }
    return converse(s, !strcmp(how, "quit") ? "QUIT\n" : "HELLO\n");
}

static int do_byname(char *name, char *port)
{
    SOCKET s = new_socket(AF_INET6, SOCK_STREAM);
    struct timeval tv = {10, 0};
    if (s == INVALID_SOCKET)
        return EXIT_FAILED;
    if (!WSAConnectByNameA(s, name, port, NULL, NULL, NULL, NULL, &tv, NULL))
        return err_call("connect", "WSAConnectByNameA()");
    if (setsockopt(s, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0) != 0)
        return err_call("setsockopt", "setsockopt(SO_UPDATE_CONNECT_CONTEXT) after WSAConnectByNameA");
    return converse(s, "HELLO\n");
}

/* how: "udp" (sendto), "wsasendto" (WSASendTo), "wsasendmsg" (WSASendMsg from WSAIoctl) */
static int do_udp(const char *how, const char *host, int port)
{
    struct sockaddr_storage ss, from;
    int len = make_addr(host, port, &ss), flen = sizeof(from), got;
    DWORD timeout = 5000;
    char buf[256], ftext[96];
    SOCKET s;
    if (!len)
        return bad_address(host);
    s = new_socket(ss.ss_family, SOCK_DGRAM);
    if (s == INVALID_SOCKET)
        return EXIT_FAILED;
    if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char *)&timeout, sizeof(timeout)) != 0)
        return err_call("setsockopt", "setsockopt(SO_RCVTIMEO)");
    if (!strcmp(how, "wsasendto")) {
        WSABUF b = {4, (char *)"PING"};
        DWORD sent = 0;
        if (WSASendTo(s, &b, 1, &sent, 0, (struct sockaddr *)&ss, len, NULL, NULL) != 0)
            return err_call("sendto", "WSASendTo()");
    } else if (!strcmp(how, "wsasendmsg")) {
        GUID guid = WSAID_WSASENDMSG;
        LPFN_WSASENDMSG fn = NULL;
        DWORD bytes = 0, sent = 0;
        WSABUF b = {4, (char *)"PING"};
        WSAMSG msg;
        if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof(guid), &fn, sizeof(fn), &bytes, NULL, NULL))
            return err_call("ioctl", "WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, WSAID_WSASENDMSG)");
        memset(&msg, 0, sizeof(msg));
        msg.name = (LPSOCKADDR)&ss;
        msg.namelen = len;
        msg.lpBuffers = &b;
        msg.dwBufferCount = 1;
        if (fn(s, &msg, 0, &sent, NULL, NULL) != 0)
            return err_call("sendto", "WSASendMsg()");
    } else if (sendto(s, "PING", 4, 0, (struct sockaddr *)&ss, len) < 0) {
        return err_call("sendto", "sendto()");
    }
    got = recvfrom(s, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &flen);
    if (got < 0)
        return err_call("recvfrom", "recvfrom() of the answer (5 s timeout)");
    buf[got] = 0;
    if (got && buf[got - 1] == '\n')
        buf[got - 1] = 0;
    addr_text((struct sockaddr *)&from, ftext, sizeof(ftext));
    printf("OK %s from=%s\n", buf, ftext);
    return 0;
}

static int do_lookup(const char *name)
{
    struct addrinfo hints, *res = NULL, *p;
    struct hostent *he;
    char text[64];
    int i, rc;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(name, "80", &hints, &res);
    if (rc != 0)
        return fail("getaddrinfo", "getaddrinfo()", rc);
    for (p = res; p; p = p->ai_next) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)p->ai_addr)->sin_addr, text, sizeof(text));
        printf("GAI %s\n", text);
    }
    freeaddrinfo(res);
    he = gethostbyname(name);
    if (!he)
        return err_call("gethostbyname", "gethostbyname()");
    for (i = 0; he->h_addr_list[i]; i++) {
        inet_ntop(AF_INET, he->h_addr_list[i], text, sizeof(text));
        printf("GHBN %s\n", text);
    }
    return 0;
}

static int do_bind(const char *host, int port, int v6only)
{
    struct sockaddr_storage ss;
    int len = make_addr(host, port, &ss), l2;
    char text[96];
    SOCKET s;
    if (!len)
        return bad_address(host);
    s = v6only ? socket(ss.ss_family, SOCK_STREAM, 0) : new_socket(ss.ss_family, SOCK_STREAM);
    if (s == INVALID_SOCKET)
        return v6only ? err_call("socket", "socket()") : EXIT_FAILED;
    if (bind(s, (struct sockaddr *)&ss, len) != 0)
        return err_call("bind", "bind()");
    l2 = sizeof(ss);
    if (getsockname(s, (struct sockaddr *)&ss, &l2) != 0)
        return err_call("getsockname", "getsockname()");
    addr_text((struct sockaddr *)&ss, text, sizeof(text));
    printf("OK bound=%s\n", text);
    return 0;
}

/* Waits for a child and returns its exit code (EXIT_FAILED, with why, if that fails). */
static int child_code(PROCESS_INFORMATION *pi, const char *what)
{
    DWORD code = 0;
    CloseHandle(pi->hThread);
    if (WaitForSingleObject(pi->hProcess, INFINITE) != WAIT_OBJECT_0 || !GetExitCodeProcess(pi->hProcess, &code)) {
        fprintf(stderr, "vip_testclient: %s: waiting for the child failed: error %lu\n", what, GetLastError());
        code = EXIT_FAILED;
    }
    CloseHandle(pi->hProcess);
    return (int)code;
}

static int do_spawn(void)
{
    wchar_t *line = GetCommandLineW(), *p = wcsstr(line, L" spawn ");
    wchar_t self[1024], cmd[4096];
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    if (!p)
        return usage("spawn: no ' spawn ' in the command line");
    if (!GetModuleFileNameW(NULL, self, 1024)) {
        fprintf(stderr, "vip_testclient: GetModuleFileNameW() failed: error %lu\n", GetLastError());
        return EXIT_FAILED;
    }
    _snwprintf(cmd, 4096, L"\"%ls\" %ls", self, p + 7);
    cmd[4095] = 0;
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    fflush(stdout);
    if (!CreateProcessW(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi))
        return fail("spawn", "CreateProcessW()", (long)GetLastError());
    return child_code(&pi, "spawn");
}

static int do_spawnline(void)
{
    int argc = 0;
    wchar_t **argv = CommandLineToArgvW(GetCommandLineW(), &argc);
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    if (!argv)
        return fail("spawnline", "CommandLineToArgvW()", (long)GetLastError());
    if (argc != 3)
        return usage("spawnline takes exactly one COMMANDLINE argument");
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    if (!CreateProcessW(NULL, argv[2], NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi))
        return fail("spawnline", "CreateProcessW()", (long)GetLastError());
    return child_code(&pi, "spawnline");
}

/* User-mode CPU time of this process in microseconds (GetProcessTimes): what the hooks cost
 * inside the process, without the wineserver round trips and the machine's load. */
static double user_us(void)
{
    FILETIME c, e, k, u;
    ULARGE_INTEGER v;
    GetProcessTimes(GetCurrentProcess(), &c, &e, &k, &u);
    v.LowPart = u.dwLowDateTime;
    v.HighPart = u.dwHighDateTime;
    return (double)v.QuadPart / 10.0;
}

static double now_us(void)
{
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (double)c.QuadPart * 1e6 / (double)f.QuadPart;
}

/* N binds of HOST:0, then N connects to a listener this process binds on HOST:PORT (each
 * accepted and closed), so no other process paces the loop. */
static int do_bench(const char *host, int port, int n)
{
    struct sockaddr_storage ss, target;
    int len = make_addr(host, 0, &ss), tlen = make_addr(host, port, &target), i;
    double t0, t1, t2, u0, u1, u2, bind_us, bind_cpu;
    SOCKET l;
    if (!len || !tlen)
        return bad_address(host);
    if (n <= 0)
        return usage("bench: N must be a positive number");
    u0 = user_us();
    t0 = now_us();
    for (i = 0; i < n; i++) {
        SOCKET s = socket(ss.ss_family, SOCK_STREAM, 0);
        if (s == INVALID_SOCKET)
            return err_call("socket", "socket()");
        if (bind(s, (struct sockaddr *)&ss, len) != 0)
            return err_call("bind", "bind()");
        closesocket(s);
    }
    bind_us = (now_us() - t0) / n;
    bind_cpu = (user_us() - u0) / n;
    l = socket(target.ss_family, SOCK_STREAM, 0);
    if (l == INVALID_SOCKET)
        return err_call("socket", "socket()");
    if (bind(l, (struct sockaddr *)&target, tlen) != 0)
        return err_call("listen", "bind() of the listener");
    if (listen(l, SOMAXCONN) != 0)
        return err_call("listen", "listen()");
    t1 = now_us();
    u1 = user_us();
    for (i = 0; i < n; i++) {
        SOCKET s = socket(target.ss_family, SOCK_STREAM, 0), c;
        if (s == INVALID_SOCKET)
            return err_call("socket", "socket()");
        if (connect(s, (struct sockaddr *)&target, tlen) != 0)
            return err_call("connect", "connect()");
        c = accept(l, NULL, NULL);
        if (c == INVALID_SOCKET)
            return err_call("accept", "accept()");
        closesocket(c);
        closesocket(s);
    }
    t2 = now_us();
    u2 = user_us();
    printf("BENCH bind_us=%.2f connect_us=%.2f n=%d bind_cpu_us=%.3f connect_cpu_us=%.3f\n", bind_us,
           (t2 - t1) / n, n, bind_cpu, (u2 - u1) / n);
    return 0;
}

int main(int argc, char **argv)
{
    WSADATA wsa;
    int rc;
    /* the start marker first (the Wine runner's proof that main ran), unbuffered stdout */
    fprintf(stderr, "START vip_testclient %lu\n", (unsigned long)GetCurrentProcessId());
    fflush(stderr);
    setvbuf(stdout, NULL, _IONBF, 0);
    rc = WSAStartup(MAKEWORD(2, 2), &wsa);
    if (rc != 0)
        return fail("wsastartup", "WSAStartup()", rc);
    if (argc >= 2 && !strcmp(argv[1], "spawn"))
        rc = do_spawn();
    else if (argc == 3 && !strcmp(argv[1], "spawnline"))
        rc = do_spawnline();
    else if (argc == 4 && (!strcmp(argv[1], "connect") || !strcmp(argv[1], "wsaconnect")
                           || !strcmp(argv[1], "connectex") || !strcmp(argv[1], "quit")))
        rc = do_connect(argv[1], argv[2], atoi(argv[3]));
    else if (argc == 4 && !strcmp(argv[1], "byname"))
        rc = do_byname(argv[2], argv[3]);
    else if (argc == 4 && (!strcmp(argv[1], "udp") || !strcmp(argv[1], "wsasendto") || !strcmp(argv[1], "wsasendmsg")))
        rc = do_udp(argv[1], argv[2], atoi(argv[3]));
    else if (argc == 4 && !strcmp(argv[1], "bind"))
        rc = do_bind(argv[2], atoi(argv[3]), 0);
    else if (argc == 4 && !strcmp(argv[1], "bind6only"))
        rc = do_bind(argv[2], atoi(argv[3]), 1);
    else if (argc == 3 && !strcmp(argv[1], "lookup"))
        rc = do_lookup(argv[2]);
    else if (argc == 2 && !strcmp(argv[1], "hostname")) {
        char name[256];
        if (gethostname(name, sizeof(name)) != 0) {
            rc = err_call("hostname", "gethostname()");
        } else {
            printf("OK %s\n", name);
            rc = 0;
        }
    } else if (argc == 5 && !strcmp(argv[1], "bench"))
        rc = do_bench(argv[2], atoi(argv[3]), atoi(argv[4]));
    else
        rc = usage(argc < 2 ? "no command" : "unknown command or wrong number of arguments");
    fflush(stdout);
    fflush(stderr);
    return rc;
}
