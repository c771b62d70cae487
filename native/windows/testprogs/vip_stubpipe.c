/* Stub engine for the Wine tests (built only for tests): serves the launcher<->engine pipe
 * contract with canned replies. For each of COUNT clients it reads one request line, prints
 * "REQUEST <line>", and answers with the next line of REPLYFILE (the literal line CLOSE closes
 * the pipe without answering). Prints "READY" once the pipe exists.
 * usage: vip_stubpipe.exe PIPENAME REPLYFILE COUNT
 *
 * Diagnostics (for the Wine runner): "START vip_stubpipe <pid>" on stderr first thing in main;
 * every failure names the call and its GetLastError on stderr; a fatal one exits with
 * EXIT_FAILED (3), bad arguments with 2. */
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_FAILED 3

/* A failed call (GetLastError, read first) on stderr. */
static void warn(const char *call)
{
    DWORD code = GetLastError();
    fprintf(stderr, "vip_stubpipe: %s failed: error %lu\n", call, code);
    fflush(stderr);
}

int main(int argc, char **argv)
{
    char replies[16][4096];
    int nreplies = 0, count, i;
    FILE *f;
    fprintf(stderr, "START vip_stubpipe %lu\n", (unsigned long)GetCurrentProcessId());
    fflush(stderr);
    if (argc != 4) {
        fprintf(stderr, "usage: vip_stubpipe.exe PIPENAME REPLYFILE COUNT\n");
        return 2;
    }
    f = fopen(argv[2], "rb");
    if (!f) {
        fprintf(stderr, "vip_stubpipe: cannot read %s (fopen)\n", argv[2]);
        return 2;
    }
    while (nreplies < 16 && fgets(replies[nreplies], sizeof(replies[0]), f)) {
        size_t len = strlen(replies[nreplies]);
        while (len && (replies[nreplies][len - 1] == '\n' || replies[nreplies][len - 1] == '\r'))
            replies[nreplies][--len] = 0;
        nreplies++;
    }
    fclose(f);
    count = atoi(argv[3]);
    for (i = 0; i < count; i++) {
        HANDLE h = CreateNamedPipeA(argv[1], PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT, 1,
                                    8192, 8192, 0, NULL);
        char line[8192];
        DWORD got = 0, n = 0;
        const char *reply = replies[nreplies ? (i < nreplies ? i : nreplies - 1) : 0];
        if (h == INVALID_HANDLE_VALUE) {
            DWORD code = GetLastError();
            printf("FAIL CreateNamedPipe %lu\n", code);
            fprintf(stderr, "vip_stubpipe: CreateNamedPipeA(%s) failed: error %lu\n", argv[1], code);
            return EXIT_FAILED;
        }
        if (i == 0) {
            printf("READY\n");
            fflush(stdout);
        }
        if (!ConnectNamedPipe(h, NULL) && GetLastError() != ERROR_PIPE_CONNECTED) {
            warn("ConnectNamedPipe()");
            CloseHandle(h);
            continue;
        }
        for (;;) {
            if (got >= sizeof(line) - 1)
                break;
            if (!ReadFile(h, line + got, (DWORD)(sizeof(line) - 1 - got), &n, NULL)) {
                if (GetLastError() != ERROR_BROKEN_PIPE)
                    warn("ReadFile() of the request");
                break;
            }
            if (!n)
                break;
            got += n;
            line[got] = 0;
            if (strchr(line, '\n'))
                break;
        }
        line[got] = 0;
        if (got && line[got - 1] == '\n')
            line[got - 1] = 0;
        printf("REQUEST %s\n", line);
        fflush(stdout);
        if (strcmp(reply, "CLOSE") != 0) {
            if (!WriteFile(h, reply, (DWORD)strlen(reply), &n, NULL) || !WriteFile(h, "\n", 1, &n, NULL))
                warn("WriteFile() of the reply");
            else if (!FlushFileBuffers(h))
                warn("FlushFileBuffers()");
        }
        DisconnectNamedPipe(h);
        CloseHandle(h);
    }
    return 0;
}
