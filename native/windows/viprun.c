/* viprun.exe: starts PROGRAM with sessionnet_vipdp.dll loaded, so its Winsock calls follow the
 * translation table for the caller's session (docs/windows-data-plane.md).
 *
 *   viprun.exe --vip A --loopback B [--client-address C] [--mode MODE] [--isolate-loopback]
 *              [--inherit-children] [--report-original] [--debug] -- PROGRAM [ARGS]
 *   viprun.exe [--pipe NAME] [--debug] -- PROGRAM [ARGS]            (engine mode)
 *   viprun.exe [--pipe NAME] --ifeo PROGRAM-COMMAND-LINE            (as an IFEO Debugger)
 *
 * Engine mode asks the engine over its named pipe (default \\.\pipe\sessionnet-vip) with one
 * JSON line {"op": "plan", "command": PATH} and reads one JSON line back. An unlisted program,
 * a refused request or an unreachable engine start PROGRAM untranslated with one line saying
 * why: the user is never blocked. Exit code: PROGRAM's; 2 for bad input; 127 when PROGRAM
 * cannot be started.
 *
 * APIs (Microsoft Learn): CreateProcessW (CREATE_SUSPENDED, DEBUG_ONLY_THIS_PROCESS),
 * DebugSetProcessKillOnExit, DebugActiveProcessStop, CreateFileW/WaitNamedPipeW on a pipe,
 * SearchPathW, CommandLineToArgvW quoting rules ("Parsing C++ command-line arguments"). */
#include <windows.h>
#include <shellapi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "inject.h"
#include "vip_rules.h"
#include "vipdp_shm.h"

#define DEFAULT_PIPE L"\\\\.\\pipe\\sessionnet-vip"
#define EXIT_USAGE 2
#define EXIT_CANNOT_START 127

static const wchar_t *const MODE_NAMES[] = {L"none", L"virtual_ip", L"virtual_loopback", L"prefer_loopback",
                                            L"client_address"};

static void usage(FILE *to)
{
    fputs("usage: viprun.exe --vip A.B.C.D --loopback 127.X.Y.Z [--client-address A.B.C.D]\n"
          "                  [--mode virtual_ip|virtual_loopback|prefer_loopback|client_address]\n"
          "                  [--isolate-loopback] [--inherit-children] [--report-original] [--debug]\n"
          "                  -- PROGRAM [ARGS]\n"
          "       viprun.exe [--pipe NAME] [--debug] -- PROGRAM [ARGS]   (ask the engine)\n"
          "       viprun.exe [--pipe NAME] --ifeo PROGRAM [ARGS]       (Image File Execution Options Debugger)\n",
          to);
}

static int parse_ipv4(const wchar_t *text, uint32_t *out)
{
    unsigned v[4];
    wchar_t tail;
    int i;
    if (swscanf(text, L"%u.%u.%u.%u%lc", &v[0], &v[1], &v[2], &v[3], &tail) != 4)
        return 0;
    for (i = 0; i < 4; i++)
        if (v[i] > 255)
            return 0;
    /* Only canonical dotted quads: no leading zeros, signs or spaces. */
    {
        const wchar_t *p = text;
        for (; *p; p++)
            if (!((*p >= L'0' && *p <= L'9') || *p == L'.'))
                return 0;
    }
    *out = (v[0] << 24) | (v[1] << 16) | (v[2] << 8) | v[3];
    return 1;
}

/* ---- command line quoting (inverse of CommandLineToArgvW) ---- */
static void append_quoted(wchar_t *dst, size_t cap, const wchar_t *arg)
{
    size_t len = wcslen(dst);
    const wchar_t *p;
    int quote = arg[0] == 0 || wcspbrk(arg, L" \t\n\v\"") != NULL;
    if (len && len + 1 < cap)
        dst[len++] = L' ';
    if (quote && len + 1 < cap)
        dst[len++] = L'"';
    for (p = arg; *p && len + 4 < cap; p++) {
        size_t slashes = 0;
        while (*p == L'\\') {
            slashes++;
            p++;
        }
        if (*p == 0) {
            if (quote)
                slashes *= 2;
            while (slashes-- && len + 2 < cap)
                dst[len++] = L'\\';
            break;
        }
        if (*p == L'"') {
            slashes = slashes * 2 + 1;
        }
        while (slashes-- && len + 2 < cap)
            dst[len++] = L'\\';
        dst[len++] = *p;
    }
    if (quote && len + 1 < cap)
        dst[len++] = L'"';
    dst[len] = 0;
}

/* ---- a small JSON reader for the engine's one-line reply ---- */
struct json_reply {
    int ok;
    int has_result;
    char error[512];
    char vip[64], loopback[64], client[64], mode[64], message[1024], note[1024], exe[1024];
    int translated, isolate, report, inherit;
    long session_id;
};

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return p;
}

/* Reads a JSON string at p (after its opening quote was checked) into out; returns the position
 * after the closing quote or NULL. \uXXXX escapes outside ASCII are kept as '?'. */
static const char *json_string(const char *p, char *out, size_t cap)
{
    size_t n = 0;
    if (*p != '"')
        return NULL;
    p++;
    while (*p && *p != '"') {
        char c = *p++;
        if (c == '\\') {
            char e = *p++;
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': {
                unsigned v = 0;
                int i;
                for (i = 0; i < 4; i++) {
                    char h = *p++;
                    v <<= 4;
                    if (h >= '0' && h <= '9') v |= (unsigned)(h - '0');
                    else if (h >= 'a' && h <= 'f') v |= (unsigned)(h - 'a' + 10);
                    else if (h >= 'A' && h <= 'F') v |= (unsigned)(h - 'A' + 10);
                    else return NULL;
                }
                c = v < 128 ? (char)v : '?';
                break;
            }
            case 0: return NULL;
            default: c = e; break;
            }
        }
        if (n + 1 < cap)
            out[n++] = c;
    }
    if (*p != '"')
        return NULL;
    out[n] = 0;
    return p + 1;
}

static const char *json_skip(const char *p);

static const char *json_skip_container(const char *p, char open, char close)
{
    char tmp[2];
    p = skip_ws(p + 1);
    if (*p == close)
        return p + 1;
    for (;;) {
        if (open == '{') {
            p = json_string(skip_ws(p), tmp, sizeof(tmp));
            if (!p) return NULL;
            p = skip_ws(p);
            if (*p++ != ':') return NULL;
        }
        p = json_skip(skip_ws(p));
        if (!p) return NULL;
        p = skip_ws(p);
        if (*p == ',') { p++; continue; }
        if (*p == close) return p + 1;
        return NULL;
    }
}

static const char *json_skip(const char *p)
{
    char tmp[2];
    p = skip_ws(p);
    if (*p == '"') return json_string(p, tmp, sizeof(tmp));
    if (*p == '{') return json_skip_container(p, '{', '}');
    if (*p == '[') return json_skip_container(p, '[', ']');
    if (!strncmp(p, "true", 4)) return p + 4;
    if (!strncmp(p, "false", 5)) return p + 5;
    if (!strncmp(p, "null", 4)) return p + 4;
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
        p++;
        while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-') p++;
        return p;
    }
    return NULL;
}

/* Value at p into a string field (strings; null -> ""), a bool or a long. */
static const char *json_value(const char *p, char *str, size_t cap, int *boolean, long *number)
{
    p = skip_ws(p);
    if (str) str[0] = 0;
    if (*p == '"' && str) return json_string(p, str, cap);
    if (!strncmp(p, "null", 4)) return p + 4;
    if (boolean && !strncmp(p, "true", 4)) { *boolean = 1; return p + 4; }
    if (boolean && !strncmp(p, "false", 5)) { *boolean = 0; return p + 5; }
    if (number && (*p == '-' || (*p >= '0' && *p <= '9'))) { *number = strtol(p, NULL, 10); return json_skip(p); }
    return json_skip(p);
}

static int parse_object(const char *p, struct json_reply *r, int nested)
{
    char key[64];
    p = skip_ws(p);
    if (*p != '{') return 0;
    p = skip_ws(p + 1);
    if (*p == '}') return 1;
    for (;;) {
        p = json_string(skip_ws(p), key, sizeof(key));
        if (!p) return 0;
        p = skip_ws(p);
        if (*p++ != ':') return 0;
        p = skip_ws(p);
        if (!nested && !strcmp(key, "result") && *p == '{') {
            const char *end = json_skip(p);
            if (!end || !parse_object(p, r, 1)) return 0;
            r->has_result = 1;
            p = end;
        } else if (!nested && !strcmp(key, "ok")) p = json_value(p, NULL, 0, &r->ok, NULL);
        else if (!nested && !strcmp(key, "error")) p = json_value(p, r->error, sizeof(r->error), NULL, NULL);
        else if (nested && !strcmp(key, "vip")) p = json_value(p, r->vip, sizeof(r->vip), NULL, NULL);
        else if (nested && !strcmp(key, "loopback")) p = json_value(p, r->loopback, sizeof(r->loopback), NULL, NULL);
        else if (nested && !strcmp(key, "client_address")) p = json_value(p, r->client, sizeof(r->client), NULL, NULL);
        else if (nested && !strcmp(key, "mode")) p = json_value(p, r->mode, sizeof(r->mode), NULL, NULL);
        else if (nested && !strcmp(key, "message")) p = json_value(p, r->message, sizeof(r->message), NULL, NULL);
        else if (nested && !strcmp(key, "note")) p = json_value(p, r->note, sizeof(r->note), NULL, NULL);
        else if (nested && !strcmp(key, "exe")) p = json_value(p, r->exe, sizeof(r->exe), NULL, NULL);
        else if (nested && !strcmp(key, "translated")) p = json_value(p, NULL, 0, &r->translated, NULL);
        else if (nested && !strcmp(key, "isolate_loopback")) p = json_value(p, NULL, 0, &r->isolate, NULL);
        else if (nested && !strcmp(key, "report_original")) p = json_value(p, NULL, 0, &r->report, NULL);
        else if (nested && !strcmp(key, "inherit_children")) p = json_value(p, NULL, 0, &r->inherit, NULL);
        else if (nested && !strcmp(key, "session_id")) p = json_value(p, NULL, 0, NULL, &r->session_id);
        else p = json_skip(p);
        if (!p) return 0;
        p = skip_ws(p);
        if (*p == ',') { p++; continue; }
        return *p == '}';
    }
}

static void json_escape(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; *in && n + 7 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == '"' || c == '\\') { out[n++] = '\\'; out[n++] = (char)c; }
        else if (c < 0x20) n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        else out[n++] = (char)c;
    }
    out[n] = 0;
}

/* Asks the engine; returns 1 with *r filled, or 0 with why[] saying what went wrong. */
static int ask_engine(const wchar_t *pipe, const wchar_t *program, struct json_reply *r, char *why, size_t whycap)
{
    HANDLE h;
    char path[1024], esc[2200], req[2400], line[8192];
    DWORD n = 0, got = 0, len;
    OVERLAPPED ov;
    memset(r, 0, sizeof(*r));
    /* read + write-data, not GENERIC_WRITE: its FILE_APPEND_DATA is the right to create pipe
       instances, which the engine's pipe grants to administrators only (docs/vip_agent.md) */
    h = CreateFileW(pipe, GENERIC_READ | FILE_WRITE_DATA, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
    if (h == INVALID_HANDLE_VALUE && GetLastError() == ERROR_PIPE_BUSY && WaitNamedPipeW(pipe, 2000))
        h = CreateFileW(pipe, GENERIC_READ | FILE_WRITE_DATA, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        snprintf(why, whycap, "the engine's pipe %ls is not reachable (error %lu)", pipe, GetLastError());
        return 0;
    }
    WideCharToMultiByte(CP_UTF8, 0, program, -1, path, sizeof(path), NULL, NULL);
    json_escape(path, esc, sizeof(esc));
    len = (DWORD)snprintf(req, sizeof(req), "{\"op\": \"plan\", \"command\": \"%s\"}\n", esc);
    memset(&ov, 0, sizeof(ov));
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!WriteFile(h, req, len, NULL, &ov) && GetLastError() != ERROR_IO_PENDING) {
        snprintf(why, whycap, "cannot write to the engine's pipe (error %lu)", GetLastError());
        CloseHandle(ov.hEvent);
        CloseHandle(h);
        return 0;
    }
    if (WaitForSingleObject(ov.hEvent, 5000) != WAIT_OBJECT_0 || !GetOverlappedResult(h, &ov, &n, FALSE)) {
        CancelIo(h);
        snprintf(why, whycap, "the engine did not take the request within 5 s");
        CloseHandle(ov.hEvent);
        CloseHandle(h);
        return 0;
    }
    while (got + 1 < sizeof(line) && !memchr(line, '\n', got)) {
        ResetEvent(ov.hEvent);
        if (!ReadFile(h, line + got, (DWORD)(sizeof(line) - 1 - got), NULL, &ov) && GetLastError() != ERROR_IO_PENDING) {
            if (GetLastError() == ERROR_BROKEN_PIPE || GetLastError() == ERROR_MORE_DATA) break;
            snprintf(why, whycap, "cannot read the engine's reply (error %lu)", GetLastError());
            goto fail;
        }
        if (WaitForSingleObject(ov.hEvent, 5000) != WAIT_OBJECT_0) {
            CancelIo(h);
            snprintf(why, whycap, "the engine did not answer within 5 s");
            goto fail;
        }
        if (!GetOverlappedResult(h, &ov, &n, FALSE)) {
            if (GetLastError() != ERROR_MORE_DATA) {
                if (got) break;
                snprintf(why, whycap, "the engine closed the pipe without an answer (error %lu)", GetLastError());
                goto fail;
            }
        }
        if (n == 0) break;
        got += n;
        line[got] = 0;
    }
    CloseHandle(ov.hEvent);
    CloseHandle(h);
    line[got] = 0;
    if (!parse_object(line, r, 0)) {
        snprintf(why, whycap, "the engine's reply is not the expected JSON object");
        return 0;
    }
    return 1;
fail:
    CloseHandle(ov.hEvent);
    CloseHandle(h);
    return 0;
}

/* ---- starting PROGRAM ---- */
static int mode_from(const wchar_t *name)
{
    int i;
    for (i = 0; i < 5; i++)
        if (!wcscmp(name, MODE_NAMES[i]))
            return i;
    return -1;
}

static void own_dir(wchar_t *dir, size_t cap)
{
    wchar_t *slash;
    GetModuleFileNameW(NULL, dir, (DWORD)cap);
    slash = wcsrchr(dir, L'\\');
    if (slash)
        slash[1] = 0;
}

/* build/windows/x64/viprun.exe finds ..\x86\sessionnet_vipdp.dll and vice versa. */
static void dll_paths(struct vipdp_shm *cfg)
{
    wchar_t dir[VIPDP_PATH_CHARS];
    own_dir(dir, VIPDP_PATH_CHARS);
#if defined(_WIN64)
    _snwprintf(cfg->dll_x64, VIPDP_PATH_CHARS, L"%lssessionnet_vipdp.dll", dir);
    _snwprintf(cfg->dll_x86, VIPDP_PATH_CHARS, L"%ls..\\x86\\sessionnet_vipdp.dll", dir);
#else
    _snwprintf(cfg->dll_x86, VIPDP_PATH_CHARS, L"%lssessionnet_vipdp.dll", dir);
    _snwprintf(cfg->dll_x64, VIPDP_PATH_CHARS, L"%ls..\\x64\\sessionnet_vipdp.dll", dir);
#endif
    cfg->dll_x64[VIPDP_PATH_CHARS - 1] = 0;
    cfg->dll_x86[VIPDP_PATH_CHARS - 1] = 0;
}

static void fmt_addr(uint32_t a, wchar_t *out)
{
    _snwprintf(out, 16, L"%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
    out[15] = 0;
}

/* Starts and waits. translate = 0 starts PROGRAM plainly. debug_bypass: the IFEO route. */
static int run(const wchar_t *program, wchar_t *cmdline, int translate, struct vipdp_shm *cfg, int debug_bypass,
               wchar_t *const *raw_args, int raw_count)
{
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    DWORD flags = 0, code = 0, err;
    HANDLE block = NULL;
    int bits = translate ? vipdp_image_bits(program) : 0;
#if defined(_WIN64)
    int mine = 64;
#else
    int mine = 32;
#endif
    if (translate && bits && bits != mine) {
        /* PROGRAM is of the other bitness: hand over to the sibling viprun with the settings
         * already decided (a hook DLL loads only into a process of its own bitness). */
        wchar_t dir[VIPDP_PATH_CHARS], sibling[VIPDP_PATH_CHARS], a[16], line[32768];
        int i;
        own_dir(dir, VIPDP_PATH_CHARS);
        _snwprintf(sibling, VIPDP_PATH_CHARS, L"%ls..\\%ls\\viprun.exe", dir, bits == 64 ? L"x64" : L"x86");
        sibling[VIPDP_PATH_CHARS - 1] = 0;
        line[0] = 0;
        append_quoted(line, 32768, sibling);
        append_quoted(line, 32768, L"--mode");
        append_quoted(line, 32768, MODE_NAMES[cfg->mode]);
        fmt_addr(cfg->loopback, a);
        append_quoted(line, 32768, L"--loopback");
        append_quoted(line, 32768, a);
        if (cfg->vip) { fmt_addr(cfg->vip, a); append_quoted(line, 32768, L"--vip"); append_quoted(line, 32768, a); }
        if (cfg->client) { fmt_addr(cfg->client, a); append_quoted(line, 32768, L"--client-address"); append_quoted(line, 32768, a); }
        if (cfg->flags & VIP_FLAG_ISOLATE_LOOPBACK) append_quoted(line, 32768, L"--isolate-loopback");
        if (cfg->flags & VIP_FLAG_INHERIT_CHILDREN) append_quoted(line, 32768, L"--inherit-children");
        if (cfg->flags & VIP_FLAG_REPORT_ORIGINAL) append_quoted(line, 32768, L"--report-original");
        if (cfg->debug) append_quoted(line, 32768, L"--debug");
        append_quoted(line, 32768, L"--");
        append_quoted(line, 32768, program);
        for (i = 0; i < raw_count; i++)
            append_quoted(line, 32768, raw_args[i]);
        return run(sibling, line, 0, NULL, 0, NULL, 0);
    }
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    memset(&pi, 0, sizeof(pi));
    if (translate)
        flags |= CREATE_SUSPENDED;
    if (debug_bypass)
        flags |= DEBUG_ONLY_THIS_PROCESS; /* a process created for debugging skips its IFEO Debugger */
    if (!CreateProcessW(program, cmdline, NULL, NULL, TRUE, flags, NULL, NULL, &si, &pi)) {
        err = GetLastError();
        fprintf(stderr, "viprun: cannot start '%ls' (Windows error %lu); check the path and that it is a program\n",
                program, err);
        return EXIT_CANNOT_START;
    }
    if (debug_bypass) {
        DebugSetProcessKillOnExit(FALSE);
        if (!DebugActiveProcessStop(pi.dwProcessId))
            fprintf(stderr, "viprun: could not detach from '%ls' (Windows error %lu)\n", program, GetLastError());
    }
    if (translate) {
        block = vipdp_write_settings(pi.dwProcessId, cfg);
        err = block ? vipdp_inject(pi.hProcess, mine == 64 ? cfg->dll_x64 : cfg->dll_x86) : GetLastError();
        if (err)
            fprintf(stderr, "viprun: '%ls' runs untranslated: the data-plane DLL could not be loaded into it (Windows error %lu)\n",
                    program, err);
        if (block)
            CloseHandle(block);
        /* A process that ended while suspended (during the DLL's load) would otherwise pass its
         * exit code on with no word: say so. */
        if (WaitForSingleObject(pi.hProcess, 0) == WAIT_OBJECT_0) {
            DWORD early = 0;
            GetExitCodeProcess(pi.hProcess, &early);
            fprintf(stderr, "viprun: '%ls' ended before it started, while the data-plane DLL was being loaded into it (exit code %lu, 0x%08lx)\n",
                    program, early, early);
        }
        ResumeThread(pi.hThread);
    }
    CloseHandle(pi.hThread);
    WaitForSingleObject(pi.hProcess, INFINITE);
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    return (int)code;
}

static int resolve_program(const wchar_t *name, wchar_t *full, DWORD cap)
{
    DWORD n = SearchPathW(NULL, name, L".exe", cap, full, NULL);
    return n > 0 && n < cap && GetFileAttributesW(full) != INVALID_FILE_ATTRIBUTES
           && !(GetFileAttributesW(full) & FILE_ATTRIBUTE_DIRECTORY);
}

/* The raw command-line text after the argument that ends at index `after` (for --ifeo: keep
 * the original program command line exactly as Windows passed it). */
static const wchar_t *raw_tail(const wchar_t *line, int after)
{
    const wchar_t *p = line;
    int i, inq;
    for (i = 0; i <= after; i++) {
        while (*p == L' ' || *p == L'\t') p++;
        inq = 0;
        while (*p && (inq || (*p != L' ' && *p != L'\t'))) {
            if (*p == L'\\' && p[1] == L'"') { p += 2; continue; }
            if (*p == L'"') inq = !inq;
            p++;
        }
    }
    while (*p == L' ' || *p == L'\t') p++;
    return p;
}

int wmain(void)
{
    int argc = 0, i, prog_at = -1, ifeo = 0, engine;
    wchar_t **argv = CommandLineToArgvW(GetCommandLineW(), &argc);
    const wchar_t *vip = NULL, *loopback = NULL, *client = NULL, *mode = NULL, *pipe = NULL;
    int isolate = 0, inherit = 0, report = 0, dbg = 0;
    struct vipdp_shm cfg;
    wchar_t full[VIPDP_PATH_CHARS];
    static wchar_t cmdline[32768];
    int translate = 1;

    SetConsoleCtrlHandler(NULL, TRUE); /* Ctrl+C goes to PROGRAM; viprun waits for it */
    if (!argv)
        return EXIT_USAGE;
    for (i = 1; i < argc; i++) {
        const wchar_t *a = argv[i];
        int needs_value = !wcscmp(a, L"--vip") || !wcscmp(a, L"--loopback") || !wcscmp(a, L"--client-address")
                          || !wcscmp(a, L"--mode") || !wcscmp(a, L"--pipe");
        if (!wcscmp(a, L"--")) { prog_at = i + 1; break; }
        if (!wcscmp(a, L"--ifeo")) { ifeo = 1; prog_at = i + 1; break; }
        if (!wcscmp(a, L"--help") || !wcscmp(a, L"-h") || !wcscmp(a, L"/?")) { usage(stdout); return 0; }
        if (needs_value && i + 1 >= argc) {
            fprintf(stderr, "viprun: option '%ls' needs a value; see viprun.exe --help\n", a);
            return EXIT_USAGE;
        }
        if (!wcscmp(a, L"--vip")) vip = argv[++i];
        else if (!wcscmp(a, L"--loopback")) loopback = argv[++i];
        else if (!wcscmp(a, L"--client-address")) client = argv[++i];
        else if (!wcscmp(a, L"--mode")) mode = argv[++i];
        else if (!wcscmp(a, L"--pipe")) pipe = argv[++i];
        else if (!wcscmp(a, L"--isolate-loopback")) isolate = 1;
        else if (!wcscmp(a, L"--inherit-children")) inherit = 1;
        else if (!wcscmp(a, L"--report-original")) report = 1;
        else if (!wcscmp(a, L"--debug")) dbg = 1;
        else if (a[0] == L'-' || a[0] == L'/') {
            fprintf(stderr, "viprun: unknown option '%ls'; see viprun.exe --help\n", a);
            return EXIT_USAGE;
        } else {
            fprintf(stderr, "viprun: put '--' before the program: viprun.exe [OPTIONS] -- %ls [ARGS]\n", a);
            return EXIT_USAGE;
        }
    }
    if (prog_at < 0 || prog_at >= argc) {
        fputs("viprun: no PROGRAM given; usage: viprun.exe [OPTIONS] -- PROGRAM [ARGS] (see --help)\n", stderr);
        return EXIT_USAGE;
    }
    engine = !vip && !loopback && !client && !mode;
    memset(&cfg, 0, sizeof(cfg));
    cfg.magic = VIPDP_SHM_MAGIC;
    cfg.version = VIPDP_SHM_VERSION;
    cfg.size = sizeof(cfg);
    cfg.debug = (uint32_t)dbg;
    dll_paths(&cfg);
    if (!engine) {
        int m = mode ? mode_from(mode) : VIP_MODE_VIRTUAL_IP;
        if (pipe || ifeo) {
            fputs("viprun: --pipe/--ifeo ask the engine; they cannot be combined with --vip/--loopback/--client-address/--mode\n", stderr);
            return EXIT_USAGE;
        }
        if (m < 1) {
            fprintf(stderr, "viprun: --mode '%ls' is not one of virtual_ip, virtual_loopback, prefer_loopback, client_address\n", mode);
            return EXIT_USAGE;
        }
        if (!loopback) {
            fputs("viprun: --loopback is required with --vip/--client-address/--mode (the session loopback, e.g. 127.0.0.2)\n", stderr);
            return EXIT_USAGE;
        }
        /* The loopback rule: sessions 1..16,777,213 -> 127.0.0.2..127.255.255.254 (docs/engine.md). */
        if (!parse_ipv4(loopback, &cfg.loopback) || (cfg.loopback >> 24) != 127 || cfg.loopback <= VIP_LOCALHOST4
            || cfg.loopback == 0x7FFFFFFFu) {
            fprintf(stderr, "viprun: --loopback '%ls' is not a session loopback address; give 127.0.0.2 to 127.255.255.254\n", loopback);
            return EXIT_USAGE;
        }
        if (vip && (!parse_ipv4(vip, &cfg.vip) || cfg.vip == 0 || (cfg.vip >> 24) == 127 || (cfg.vip >> 28) >= 14)) {
            fprintf(stderr, "viprun: --vip '%ls' is not a unicast IPv4 address A.B.C.D outside 127.0.0.0/8\n", vip);
            return EXIT_USAGE;
        }
        if (client && (!parse_ipv4(client, &cfg.client) || cfg.client == 0)) {
            fprintf(stderr, "viprun: --client-address '%ls' is not an IPv4 address A.B.C.D\n", client);
            return EXIT_USAGE;
        }
        if (m == VIP_MODE_VIRTUAL_IP && !vip) {
            fputs("viprun: --vip is required for mode virtual_ip (or choose --mode virtual_loopback)\n", stderr);
            return EXIT_USAGE;
        }
        if (m == VIP_MODE_CLIENT_ADDRESS && !client) {
            fputs("viprun: --client-address is required for mode client_address\n", stderr);
            return EXIT_USAGE;
        }
        cfg.mode = (uint32_t)m;
        cfg.session_id = cfg.loopback - VIP_LOCALHOST4;
        cfg.flags = (isolate ? VIP_FLAG_ISOLATE_LOOPBACK : 0) | (report ? VIP_FLAG_REPORT_ORIGINAL : 0)
                    | (inherit ? VIP_FLAG_INHERIT_CHILDREN : 0);
    } else if (isolate || inherit || report) {
        fputs("viprun: --isolate-loopback/--inherit-children/--report-original are standalone options (with --vip/--loopback); in engine mode the engine decides them\n", stderr);
        return EXIT_USAGE;
    }
    if (!resolve_program(argv[prog_at], full, VIPDP_PATH_CHARS)) {
        fprintf(stderr, "viprun: program '%ls' not found; give its full path or a name on PATH\n", argv[prog_at]);
        return EXIT_CANNOT_START;
    }
    if (ifeo) {
        /* Windows appended the original command line; keep it verbatim. */
        wcsncpy(cmdline, raw_tail(GetCommandLineW(), prog_at - 1), 32767);
    } else {
        cmdline[0] = 0;
        for (i = prog_at; i < argc; i++)
            append_quoted(cmdline, 32768, i == prog_at ? full : argv[i]);
    }
    if (engine) {
        struct json_reply r;
        char why[512];
        const wchar_t *pipe_name = pipe ? pipe : DEFAULT_PIPE;
        if (!ask_engine(pipe_name, full, &r, why, sizeof(why))) {
            fprintf(stderr, "viprun: starting '%ls' untranslated: %s\n", full, why);
            translate = 0;
        } else if (!r.ok || !r.has_result) {
            fprintf(stderr, "viprun: starting '%ls' untranslated: the engine refused: %s\n", full,
                    r.error[0] ? r.error : "no result");
            translate = 0;
        } else {
            if (r.message[0])
                fprintf(stderr, "%s\n", r.message);
            if (!r.translated) {
                fprintf(stderr, "viprun: starting '%ls' untranslated: %s\n", full,
                        r.note[0] ? r.note : "the program is not listed for this session");
                translate = 0;
            } else {
                wchar_t w[64];
                int m;
                MultiByteToWideChar(CP_UTF8, 0, r.mode, -1, w, 64);
                m = mode_from(w);
                MultiByteToWideChar(CP_UTF8, 0, r.loopback, -1, w, 64);
                if (m < 1 || !parse_ipv4(w, &cfg.loopback)) {
                    fprintf(stderr, "viprun: starting '%ls' untranslated: the engine's reply has mode '%s', loopback '%s'\n",
                            full, r.mode, r.loopback);
                    translate = 0;
                } else {
                    cfg.mode = (uint32_t)m;
                    if (r.vip[0]) { MultiByteToWideChar(CP_UTF8, 0, r.vip, -1, w, 64); parse_ipv4(w, &cfg.vip); }
                    if (r.client[0]) { MultiByteToWideChar(CP_UTF8, 0, r.client, -1, w, 64); parse_ipv4(w, &cfg.client); }
                    cfg.session_id = (uint32_t)r.session_id;
                    cfg.flags = (r.isolate ? VIP_FLAG_ISOLATE_LOOPBACK : 0) | (r.report ? VIP_FLAG_REPORT_ORIGINAL : 0)
                                | (r.inherit ? VIP_FLAG_INHERIT_CHILDREN : 0);
                }
            }
        }
    }
    if (dbg && translate) {
        wchar_t v[16], l[16];
        fmt_addr(cfg.vip, v);
        fmt_addr(cfg.loopback, l);
        fprintf(stderr, "viprun: '%ls' mode %ls vip %ls loopback %ls flags %u\n", full, MODE_NAMES[cfg.mode], v, l,
                cfg.flags);
    }
    return run(full, cmdline, translate, &cfg, ifeo, argv + prog_at + 1, argc - prog_at - 1);
}
