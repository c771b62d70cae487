/* Stub engine for the Wine tests (built only for tests): serves the launcher<->engine pipe
 * contract with canned replies. For each of COUNT clients it reads one request line, prints
 * "REQUEST <line>", and answers with the next line of REPLYFILE (the literal line CLOSE closes
 * the pipe without answering). Prints "READY" once the pipe exists.
 * usage: vip_stubpipe.exe PIPENAME REPLYFILE COUNT */
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    char replies[16][4096];
    int nreplies = 0, count, i;
    FILE *f;
    if (argc != 4) {
        fprintf(stderr, "usage: vip_stubpipe.exe PIPENAME REPLYFILE COUNT\n");
        return 2;
    }
    f = fopen(argv[2], "rb");
    if (!f) {
        fprintf(stderr, "cannot read %s\n", argv[2]);
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
            printf("FAIL CreateNamedPipe %lu\n", GetLastError());
            return 1;
        }
        if (i == 0) {
            printf("READY\n");
            fflush(stdout);
        }
        if (!ConnectNamedPipe(h, NULL) && GetLastError() != ERROR_PIPE_CONNECTED) {
            CloseHandle(h);
            continue;
        }
        while (got < sizeof(line) - 1 && ReadFile(h, line + got, (DWORD)(sizeof(line) - 1 - got), &n, NULL) && n) {
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
            WriteFile(h, reply, (DWORD)strlen(reply), &n, NULL);
            WriteFile(h, "\n", 1, &n, NULL);
            FlushFileBuffers(h);
        }
        DisconnectNamedPipe(h);
        CloseHandle(h);
    }
    return 0;
}
