"""Fixtures for the Windows data plane: the mingw-w64 build, the host build of the rule core,
and Wine running inside a scratch network namespace.

One persistent ``wineserver -p`` serves the whole run, with its own prefix (a hard-linked copy
of a template prefix kept under ``.work/``) and started inside the namespace: Wine 8 creates
and binds sockets in the wineserver, so ``ss`` in that namespace shows where a Windows program
really listens. Everything is torn down by finalizers. Tests skip (with the reason) only when
the kernel refuses a network namespace; a missing Wine or mingw-w64 is an error (``make test``
installs them from requirements/debian-packages.txt).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import re
import select
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BUILD = REPO / "build" / "windows"
WINE64 = Path("/usr/lib/wine/wine64")
WINESERVER = Path("/usr/lib/wine/wineserver")
VIPS = ("192.0.2.11", "192.0.2.12")
LOOPBACKS = ("127.0.0.2", "127.0.0.3")  # sessions 1 and 2 by the loopback rule


def _make_windows() -> None:
    proc = subprocess.run(
        ["make", "--no-print-directory", "-s", "windows"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"make windows failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


@pytest.fixture(scope="session")
def windows_build() -> Path:
    """build/windows after ``make windows`` (incremental: cheap when up to date)."""
    _make_windows()
    return BUILD


@pytest.fixture(scope="session")
def rules_lib(windows_build: Path) -> ctypes.CDLL:
    return ctypes.CDLL(str(windows_build / "host" / "libvip_rules.so"))


def winpath(path: Path | str) -> str:
    """A Linux path as Wine's Z: drive spells it."""
    return "Z:" + str(path).replace("/", "\\")


#: The first line every test program (native/windows/testprogs) prints, to stderr, as main starts:
#: a run without it never reached the program's main.
START_LINE = re.compile(r"^START (vip_testclient|vip_testserver|vip_stubpipe) \d+\r?\n", re.MULTILINE)
TEST_PROGRAMS = ("vip_testclient", "vip_testserver", "vip_stubpipe")
#: Exit codes the test programs use for their own failures (EXIT_USAGE, EXIT_FAILED).
OWN_FAILURE_CODES = (2, 3)


#: Wine's own error messages only (none in a good run): the runner takes them out of stderr
#: (:func:`split_wine_log`) and shows them in its reports, so a start Wine aborts says why.
WINEDEBUG = "-all,err+all"
#: A line of Wine's debug output: "0024:err:module:import_dll ...", or without the thread id when
#: the process has none yet: "err:virtual:virtual_alloc_first_teb wine: failed to map the shared
#: user data: c0000018" (seen here under load: an address-space conflict at 0x7ffe0000 that
#: ends the new process with exit code 1 before its main, silently under WINEDEBUG=-all).
WINE_LOG_LINE = re.compile(r"^(?:[0-9a-f]{4}:)?(?:err|fixme|warn|trace):\w+:\w+ .*(?:\n|$)", re.MULTILINE)


def split_wine_log(stderr: str) -> tuple[str, str]:
    """``stderr`` without Wine's debug lines, and those lines."""
    return WINE_LOG_LINE.sub("", stderr), "".join(WINE_LOG_LINE.findall(stderr))


class WineStartRetried(UserWarning):
    """A test program's start that Wine aborted before the program's main ran, retried once."""


def _strip_start_lines(stderr: str) -> tuple[str, int]:
    """``stderr`` without the test programs' START lines, and how many there were."""
    text, count = START_LINE.subn("", stderr)
    return text, count


def describe(
    argv: list[str], code: int | None, stdout: str, stderr: str, note: str = "", wine_log: str = ""
) -> str:
    """Everything about one Wine run, for assertion messages."""
    shown = " ".join(argv[4:]) if argv[:3] == ["ip", "netns", "exec"] else " ".join(argv)
    parts = [f"`{shown}`: exit {code}"]
    if note:
        parts.append(note)
    parts.append(f"stdout: {stdout!r}")
    parts.append(f"stderr: {stderr!r}")
    if wine_log:
        parts.append(f"Wine's own errors: {wine_log!r}")
    return "; ".join(parts)


class WineRun(subprocess.CompletedProcess[str]):
    """A finished Wine run; ``stderr`` without the START lines (``starts`` counts them) and
    without Wine's own debug lines (``wine_log``). Its ``str``/``repr`` give the command, exit
    code, stdout, stderr and Wine's errors (for assertion messages)."""

    def __init__(
        self,
        args: list[str],
        returncode: int,
        stdout: str,
        stderr: str,
        starts: int,
        note: str,
        wine_log: str,
    ) -> None:
        super().__init__(args, returncode, stdout, stderr)
        self.starts = starts
        self.note = note
        self.wine_log = wine_log

    def __str__(self) -> str:
        return describe(list(self.args), self.returncode, self.stdout, self.stderr, self.note, self.wine_log)

    __repr__ = __str__


#: viprun's line when CreateProcessW of the program failed with ERROR_INTERNAL_ERROR (1359). viprun
#: has already found the program (else it says "not found"), and the DLL is loaded only after
#: CreateProcessW returns, so this is Wine's: its NtCreateUserProcess answers STATUS_INTERNAL_ERROR
#: when the new process ended before finishing its initialization without an exit code
#: (wine-mirror/wine, dlls/ntdll/unix/process.c, "wait for the new process info to be ready").
WINE_CREATE_ABORTED = re.compile(r"^viprun: cannot start '[^']*' \(Windows error 1359\);")


def aborted_start(expects_start: bool, starts: int, code: int | None, stdout: str, stderr: str) -> str | None:
    """Why a run looks like a start that Wine aborted before the test program's main, or ``None``.

    Only then is a retry harmless: the program's main never ran (no START line), and either
    nothing of ours printed anything (no stdout, no ``viprun:`` line) and the exit code is none
    of the test programs' own failure codes (which would mean they ran and their output went
    missing), or all viprun said is that Wine could not create the process (ERROR_INTERNAL_ERROR,
    :data:`WINE_CREATE_ABORTED`)."""
    if not expects_start or starts or stdout.strip():
        return None
    ours = [line for line in stderr.splitlines() if line.startswith("viprun:")]
    if ours:
        if all(WINE_CREATE_ABORTED.match(line) for line in ours):
            return f"Wine's CreateProcessW of the test program failed with ERROR_INTERNAL_ERROR: exit {code}"
        return None
    if code in OWN_FAILURE_CODES:
        return None
    return f"the test program never reached main (no START line on stderr) and nothing of ours printed: exit {code}"


def server_pid(prefix: Path) -> int | None:
    """The pid of the wineserver serving ``prefix``: the holder of the lock in its server
    directory (``<tmp>/.wine-UID/`` or, as Debian builds it, ``<tmp>/wine-XXXXXX/``,
    ``server-<dev>-<inode of the prefix>/lock``), from /proc/locks."""
    st = prefix.stat()
    holders: dict[int, int] = {}
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()  # "1: POSIX  ADVISORY  WRITE 1234 fe:00:5678 0 EOF"
        if len(fields) >= 6 and fields[1] == "POSIX" and fields[4].isdigit():
            holders[int(fields[5].rsplit(":", 1)[-1])] = int(fields[4])
    name = f"server-{st.st_dev:x}-{st.st_ino:x}"
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    for lock in [*tmp.glob(f".wine-{os.getuid()}/{name}/lock"), *tmp.glob(f"wine-*/{name}/lock")]:
        pid = holders.get(lock.stat().st_ino)
        if pid is not None:
            return pid
    return None


@dataclass
class Wine:
    """Runs Windows programs under the run's wineserver, inside the scratch namespace.

    A run of a test program (native/windows/testprogs) that Wine aborted before the program's
    main (see :func:`aborted_start`) is retried once, with a :class:`WineStartRetried` warning
    saying why; a failure of the program itself is never retried."""

    prefix: Path
    netns: str
    build: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    server_pid: int | None = None
    stderr_files: dict[int, Path] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
        env.update(WINEPREFIX=str(self.prefix), WINEDEBUG=WINEDEBUG, WINEDLLOVERRIDES="winemenubuilder.exe=d")
        return env

    def argv(self, program: Path | str, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.netns, str(WINE64), str(program), *args]

    @property
    def viprun(self) -> Path:
        return self.build / "x64" / "viprun.exe"

    def test_program(self, name: str) -> str:
        return winpath(self.build / "tests" / "x64" / f"{name}.exe")

    @staticmethod
    def _expects_start(program: Path | str, args: tuple[str, ...]) -> bool:
        """Whether the command runs one of the test programs (which print a START line)."""
        return any(name in str(word) for word in (program, *args) for name in TEST_PROGRAMS)

    def server_state(self) -> str:
        if self.server_pid is None:
            return "wineserver: its process was not found at start"
        if Path(f"/proc/{self.server_pid}").exists():
            return f"wineserver: running (pid {self.server_pid})"
        return f"wineserver: pid {self.server_pid} has EXITED"

    def _retry_note(self, argv: list[str], why: str) -> None:
        message = f"Wine start retried once: {why}; {self.server_state()}; command: {' '.join(argv[4:])}"
        print(message, file=sys.stderr)
        warnings.warn(WineStartRetried(message), stacklevel=3)

    def run(self, program: Path | str, *args: str, timeout: float = 60.0) -> WineRun:
        argv = self.argv(program, *args)
        expects = self._expects_start(program, args)
        note = ""
        for attempt in (1, 2):
            proc = subprocess.run(
                argv, env=self.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                check=False,
            )  # fmt: skip
            stderr, wine_log = split_wine_log(proc.stderr)
            stderr, starts = _strip_start_lines(stderr)
            why = aborted_start(expects, starts, proc.returncode, proc.stdout, stderr)
            if why is not None:
                why = f"{why}; stderr {stderr!r}; Wine's own errors {wine_log!r}"
                if attempt == 1:
                    self._retry_note(argv, why)
                    note = f"second attempt (the first: {why})"
                    continue
                note = f"{note}; this one too: {why}; {self.server_state()}"
            return WineRun(argv, proc.returncode, proc.stdout, stderr, starts, note, wine_log)
        raise AssertionError("unreachable")  # pragma: no cover

    def start(self, program: Path | str, *args: str) -> subprocess.Popen[bytes]:
        """Start a long-running program; its stderr goes to a file (read by :meth:`read_line_until`
        when the program ends early), so nothing blocks on an unread pipe."""
        logs = self.prefix / "logs"
        logs.mkdir(exist_ok=True)
        path = logs / f"stderr-{len(self.stderr_files)}.txt"
        with path.open("wb") as err:
            proc = subprocess.Popen(
                self.argv(program, *args),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        self.stderr_files[proc.pid] = path
        self.started.append(proc)
        return proc

    def stderr_of(self, proc: subprocess.Popen[bytes]) -> str:
        path = self.stderr_files.get(proc.pid)
        return path.read_text(errors="replace") if path is not None and path.exists() else ""

    def start_until(
        self, marker: str, program: Path | str, *args: str
    ) -> tuple[subprocess.Popen[bytes], list[str]]:
        """:meth:`start`, then the lines of stdout up to the one starting with ``marker`` (a
        readiness line the program prints, e.g. READY). A start Wine aborted before the program's
        main is retried once (see :func:`aborted_start`)."""
        for attempt in (1, 2):
            proc = self.start(program, *args)
            try:
                return proc, self.read_line_until(proc, marker)
            except ProcessEnded as ended:
                stderr, wine_log = split_wine_log(ended.stderr)
                stderr, starts = _strip_start_lines(stderr)
                why = aborted_start(True, starts, ended.code, "\n".join(ended.lines), stderr)
                if why is None or attempt == 2:
                    raise AssertionError(str(ended)) from None
                self._retry_note(list(proc.args), f"{why}; stderr {stderr!r}; Wine's own errors {wine_log!r}")
        raise AssertionError("unreachable")  # pragma: no cover

    def read_line_until(self, proc: subprocess.Popen[bytes], marker: str, timeout: float = 60.0) -> list[str]:
        """Lines of proc's stdout up to and including one starting with ``marker``; when the
        process ends first or the time runs out, an error with its exit code, lines and stderr."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        buf = b""
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode(errors="replace").rstrip("\r")
                lines.append(line)
                if line.startswith(marker):
                    return lines
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    describe(list(proc.args), proc.poll(), "\n".join(lines), self.stderr_of(proc),
                             f"no {marker!r} line within {timeout:.0f} s; {self.server_state()}")
                )  # fmt: skip
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                code = proc.wait()
                raise ProcessEnded(
                    list(proc.args), code, lines, self.stderr_of(proc), marker, self.server_state()
                )
            buf += chunk

    def ss_listening(self) -> list[str]:
        out = subprocess.run(
            ["ip", "netns", "exec", self.netns, "ss", "-ltnH"], capture_output=True, text=True, check=True
        ).stdout
        return [line.split()[3] for line in out.splitlines() if line.strip()]


class ProcessEnded(AssertionError):
    """A started program ended before printing the line :meth:`Wine.read_line_until` waited for."""

    def __init__(
        self, argv: list[str], code: int, lines: list[str], stderr: str, marker: str, server: str
    ) -> None:
        self.code = code
        self.lines = lines
        self.stderr = stderr
        super().__init__(
            describe(argv, code, "\n".join(lines), stderr, f"ended before a {marker!r} line; {server}")
        )


def _template_prefix() -> Path:
    """A booted Wine prefix, made once and reused (``wineboot --init`` takes seconds); a lock
    file keeps two concurrent runs from booting it at the same time."""
    template = REPO / ".work" / "wine-template"
    template.parent.mkdir(parents=True, exist_ok=True)
    with (template.parent / "wine-template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _boot_template(template)


def _boot_template(template: Path) -> Path:
    marker = template / ".sessionnet-ready"
    version = subprocess.run(
        [str(WINE64), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if marker.exists() and marker.read_text() == version:
        return template
    shutil.rmtree(template, ignore_errors=True)
    template.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env.update(WINEPREFIX=str(template), WINEDEBUG="-all", WINEDLLOVERRIDES="winemenubuilder.exe=d")
    subprocess.run([str(WINE64), "wineboot", "--init"], env=env, capture_output=True, timeout=300, check=True)
    subprocess.run([str(WINESERVER), "-w"], env=env, timeout=300, check=True)
    marker.write_text(version)
    return template


@pytest.fixture(scope="session")
def wine(windows_build: Path) -> Iterator[Wine]:
    if not WINE64.exists():
        pytest.fail(f"{WINE64} is missing: install the Debian packages wine and wine64 (make system-deps)")
    if os.geteuid() != 0:
        pytest.skip("the Wine data-plane tests need root to create a network namespace (ip netns add)")
    ns = f"snv-w{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", ns], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"the kernel refused a network namespace (ip netns add {ns}): {made.stderr.strip()}")
    prefix = REPO / ".work" / f"wine-run-{os.getpid()}"
    w = Wine(prefix, ns, windows_build)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        for vip in VIPS:
            subprocess.run(["ip", "-n", ns, "addr", "add", f"{vip}/32", "dev", "lo"], check=True)
        template = _template_prefix()
        shutil.rmtree(prefix, ignore_errors=True)
        subprocess.run(["cp", "-al", f"{template}/.", str(prefix)], check=True)
        for reg in prefix.glob("*.reg"):  # written by wineserver: private copies, not links
            reg.unlink()
            shutil.copy2(template / reg.name, reg)
        # Started before any program, and waited for: a program that finds no server starts a
        # short-lived one of its own (the persistent one then exits 2, "already running"), and
        # starts racing with that server's exits were where Wine aborted starts. Without -f,
        # wineserver's parent returns once the server holds its lock and listens (Wine's
        # server/request.c, open_master_socket: "wait for child to signal us and then exit").
        # (its stderr to a file: the server keeps it, a pipe would never reach end of file)
        server_log = prefix / "wineserver.log"
        with server_log.open("w") as log:
            code = subprocess.run(
                ["ip", "netns", "exec", ns, str(WINESERVER), "-p"], env=w.env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=log, timeout=120, check=False,
            ).returncode  # fmt: skip
        if code != 0:
            pytest.fail(
                f"the run's wineserver did not start (exit {code}; 2 is 'a server already runs for this "
                f"prefix'): {server_log.read_text().strip()!r}"
            )
        w.server_pid = server_pid(prefix)
        # The first program starts Wine's helper processes (services.exe, ...), which outlive it
        # and inherit its stdio: give it a file, not a pipe, and wait for the process itself.
        warm = prefix / "warm-up.txt"
        with warm.open("w") as out:
            code = subprocess.run(
                w.argv(w.test_program("vip_testclient"), "hostname"),
                env=w.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=300, check=False,
            ).returncode  # fmt: skip
        assert code == 0 and "OK " in warm.read_text(), f"warm-up: exit {code}: {warm.read_text()!r}"
        yield w
    finally:
        subprocess.run([str(WINESERVER), "-k"], env=w.env, capture_output=True, check=False)
        subprocess.run([str(WINESERVER), "-w"], env=w.env, capture_output=True, timeout=60, check=False)
        for proc in w.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        shutil.rmtree(prefix, ignore_errors=True)
