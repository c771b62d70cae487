/* Test server for the Wine tests (built only for tests). It knows nothing of sessionnet: it
 * binds TCP 0.0.0.0:PORT, 127.0.0.1:PORT2 and [::]:PORT3 (dual-stack AF_INET6 socket) and, with UPORT, UDP 0.0.0.0:UPORT; prints "LISTEN <what> <address>" per socket and
 * "READY"; answers each TCP client's line with "TAG <what> local=<addr> peer=<addr>" and each
 * UDP datagram with "TAG udp peer=<addr>"; exits after a client sends "QUIT".
 * usage: vip_testserver.exe TAG PORT PORT2 PORT3 [UPORT] */
#include <winsock2.h>
#include <ws2tcpip.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((u_short)port);
        inet_pton(AF_INET, addr, &in->sin_addr);
        len = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((u_short)port);
        inet_pton(AF_INET6, addr, &in6->sin6_addr);
        len = sizeof(*in6);
    }
    if (family == AF_INET6) {
        DWORD off = 0; /* dual stack, as .NET DualMode / Java servers on Windows do */
        setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&off, sizeof(off));
    }
    if (s == INVALID_SOCKET || bind(s, (struct sockaddr *)&ss, len) != 0 || listen(s, 16) != 0) {
        printf("FAIL %s bind/listen error %d\n", what, WSAGetLastError());
        fflush(stdout);
        exit(1);
    }
    len = sizeof(ss);
    getsockname(s, (struct sockaddr *)&ss, &len);
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
    if (argc < 5) {
        fprintf(stderr, "usage: vip_testserver.exe TAG PORT PORT2 PORT3 [UPORT]\n");
        return 2;
    }
    tag = argv[1];
    WSAStartup(MAKEWORD(2, 2), &wsa);
    ls[0] = listener(AF_INET, "0.0.0.0", atoi(argv[2]), names[0]);
    ls[1] = listener(AF_INET, "127.0.0.1", atoi(argv[3]), names[1]);
    ls[2] = listener(AF_INET6, "::", atoi(argv[4]), names[2]);
    if (argc > 5) {
        struct sockaddr_in in;
        int len = sizeof(in);
        char text[96];
        ls[3] = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
        memset(&in, 0, sizeof(in));
        in.sin_family = AF_INET;
        in.sin_port = htons((u_short)atoi(argv[5]));
        if (bind(ls[3], (struct sockaddr *)&in, sizeof(in)) != 0) {
            printf("FAIL udp bind error %d\n", WSAGetLastError());
            return 1;
        }
        getsockname(ls[3], (struct sockaddr *)&in, &len);
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
            break;
        for (i = 0; i < n; i++) {
            struct sockaddr_storage peer, local;
            int plen = sizeof(peer), llen = sizeof(local);
            char ptext[96], ltext[96], line[256], buf[64];
            int got;
            if (!FD_ISSET(ls[i], &rd))
                continue;
            if (i == 3) {
                got = recvfrom(ls[3], buf, sizeof(buf) - 1, 0, (struct sockaddr *)&peer, &plen);
                if (got < 0)
                    continue;
                addr_text((struct sockaddr *)&peer, ptext, sizeof(ptext));
                snprintf(line, sizeof(line), "%s udp peer=%s\n", tag, ptext);
                sendto(ls[3], line, (int)strlen(line), 0, (struct sockaddr *)&peer, plen);
                continue;
            }
            {
                SOCKET c = accept(ls[i], (struct sockaddr *)&peer, &plen);
                if (c == INVALID_SOCKET)
                    continue;
                got = recv(c, buf, sizeof(buf) - 1, 0);
                buf[got > 0 ? got : 0] = 0;
                getsockname(c, (struct sockaddr *)&local, &llen);
                addr_text((struct sockaddr *)&local, ltext, sizeof(ltext));
                addr_text((struct sockaddr *)&peer, ptext, sizeof(ptext));
                snprintf(line, sizeof(line), "%s %s local=%s peer=%s\n", tag, names[i], ltext, ptext);
                send(c, line, (int)strlen(line), 0);
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
