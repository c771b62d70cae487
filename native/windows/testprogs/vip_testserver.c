/* Test server for the Wine tests (built only for tests). It knows nothing of sessionnet: it
 * binds TCP 0.0.0.0:PORT, 127.0.0.1:PORT2 and [::]:PORT3 (dual-stack AF_INET6 socket) and, with UPORT, UDP 0.0.0.0:UPORT; prints "LISTEN <what> <address>" per socket and
 * "READY"; answers each TCP client's line with "TAG <what> local=<addr> peer=<addr>" and each
 * UDP datagram with "TAG udp peer=<addr>"; exits after a client sends "QUIT".
 * usage: vip_testserver.exe TAG PORT PORT2 PORT3 [UPORT]
 *
 * Diagnostics (for the Wine runner): "START vip_testserver <pid>" on stderr first thing in main;
 * a failure prints "FAIL ..." on stdout and which call failed with its WSAGetLastError on
 * stderr, and exits with EXIT_FAILED (3); bad arguments exit with 2. */
#include <winsock2.h>
#include <ws2tcpip.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_FAILED 3

/* A failed call that ends the server: FAIL on stdout, the call and its error on stderr. */
static void die(const char *what, const char *call)
{
    int code = WSAGetLastError();
    printf("FAIL %s %s error %d\n", what, call, code);
    fprintf(stderr, "vip_testserver: %s: %s failed: error %d\n", what, call, code);
    fflush(stdout);
    fflush(stderr);
    exit(EXIT_FAILED);
}

/* A failed call the server survives (one client's trouble): the call and its error on stderr. */
static void warn(const char *call)
{
    fprintf(stderr, "vip_testserver: %s failed: error %d\n", call, WSAGetLastError());
    fflush(stderr);
}

static void addr_text(const struct sockaddr *sa, char *out, size_t cap)
{
    char host[64] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(out, cap, "%s:%u", host, port);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(out, cap, "[%s]:%u", host, port);
    }
}

static SOCKET listener(int family, const char *addr, int port, const char *what)
{
    struct sockaddr_storage ss;
    int len;
    char text[96];
    SOCKET s = socket(family, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET)
        die(what, "socket()");
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((u_short)port);
        if (inet_pton(AF_INET, addr, &in->sin_addr) != 1)
            die(what, "inet_pton()");
        len = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((u_short)port);
        if (inet_pton(AF_INET6, addr, &in6->sin6_addr) != 1)
            die(what, "inet_pton()");
        len = sizeof(*in6);
    }
    if (family == AF_INET6) {
        DWORD off = 0; /* dual stack, as .NET DualMode / Java servers on Windows do */
        if (setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&off, sizeof(off)) != 0)
            die(what, "setsockopt(IPV6_V6ONLY=0)");
    }
    if (bind(s, (struct sockaddr *)&ss, len) != 0)
        die(what, "bind()");
    if (listen(s, 16) != 0)
        die(what, "listen()");
    len = sizeof(ss);
    if (getsockname(s, (struct sockaddr *)&ss, &len) != 0)
        die(what, "getsockname()");
    addr_text((struct sockaddr *)&ss, text, sizeof(text));
    printf("LISTEN %s %s\n", what, text);
    fflush(stdout);
    return s;
}

int main(int argc, char **argv)
{
    WSADATA wsa;
    SOCKET ls[4];
    const char *names[4] = {"any", "localhost", "any6", "udp"};
    int n = 3, i, quit = 0;
    const char *tag;
    fprintf(stderr, "START vip_testserver %lu\n", (unsigned long)GetCurrentProcessId());
    fflush(stderr);
    if (argc < 5) {
        fprintf(stderr, "usage: vip_testserver.exe TAG PORT PORT2 PORT3 [UPORT]\n");
        return 2;
    }
    tag = argv[1];
    i = WSAStartup(MAKEWORD(2, 2), &wsa);
    if (i != 0) {
        printf("FAIL WSAStartup error %d\n", i);
        fprintf(stderr, "vip_testserver: WSAStartup() failed: error %d\n", i);
        return EXIT_FAILED;
    }
    ls[0] = listener(AF_INET, "0.0.0.0", atoi(argv[2]), names[0]);
    ls[1] = listener(AF_INET, "127.0.0.1", atoi(argv[3]), names[1]);
    ls[2] = listener(AF_INET6, "::", atoi(argv[4]), names[2]);
    if (argc > 5) {
        struct sockaddr_in in;
        int len = sizeof(in);
        char text[96];
        ls[3] = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
        if (ls[3] == INVALID_SOCKET)
            die(names[3], "socket()");
        memset(&in, 0, sizeof(in));
        in.sin_family = AF_INET;
        in.sin_port = htons((u_short)atoi(argv[5]));
        if (bind(ls[3], (struct sockaddr *)&in, sizeof(in)) != 0)
            die(names[3], "bind()");
        if (getsockname(ls[3], (struct sockaddr *)&in, &len) != 0)
            die(names[3], "getsockname()");
        addr_text((struct sockaddr *)&in, text, sizeof(text));
        printf("LISTEN udp %s\n", text);
        n = 4;
    }
    printf("READY\n");
    fflush(stdout);
    while (!quit) {
        fd_set rd;
        FD_ZERO(&rd);
        for (i = 0; i < n; i++)
            FD_SET(ls[i], &rd);
        if (select(0, &rd, NULL, NULL, NULL) <= 0)
            die("serve", "select()");
        for (i = 0; i < n; i++) {
            struct sockaddr_storage peer, local;
            int plen = sizeof(peer), llen = sizeof(local);
            char ptext[96], ltext[96], line[256], buf[64];
            int got;
            if (!FD_ISSET(ls[i], &rd))
                continue;
            if (i == 3) {
                got = recvfrom(ls[3], buf, sizeof(buf) - 1, 0, (struct sockaddr *)&peer, &plen);
                if (got < 0) {
                    warn("recvfrom()");
                    continue;
                }
                addr_text((struct sockaddr *)&peer, ptext, sizeof(ptext));
                snprintf(line, sizeof(line), "%s udp peer=%s\n", tag, ptext);
                if (sendto(ls[3], line, (int)strlen(line), 0, (struct sockaddr *)&peer, plen) < 0)
                    warn("sendto()");
                continue;
            }
            {
                SOCKET c = accept(ls[i], (struct sockaddr *)&peer, &plen);
                if (c == INVALID_SOCKET) {
                    warn("accept()");
                    continue;
                }
                got = recv(c, buf, sizeof(buf) - 1, 0);
                if (got < 0)
                    warn("recv()");
                buf[got > 0 ? got : 0] = 0;
                if (getsockname(c, (struct sockaddr *)&local, &llen) != 0)
                    warn("getsockname()");
                addr_text((struct sockaddr *)&local, ltext, sizeof(ltext));
                addr_text((struct sockaddr *)&peer, ptext, sizeof(ptext));
                snprintf(line, sizeof(line), "%s %s local=%s peer=%s\n", tag, names[i], ltext, ptext);
                if (send(c, line, (int)strlen(line), 0) < 0)
                    warn("send()");
                shutdown(c, SD_SEND);
                closesocket(c);
                if (!strncmp(buf, "QUIT", 4))
                    quit = 1;
            }
        }
    }
    printf("BYE\n");
    fflush(stdout);
    return 0;
}
