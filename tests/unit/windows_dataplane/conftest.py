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
import select
import shutil
import subprocess
import time
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


def read_line_until(proc: subprocess.Popen[bytes], marker: str, timeout: float = 60.0) -> list[str]:
    """Lines of proc's stdout up to and including one starting with ``marker``."""
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
            raise AssertionError(f"no {marker!r} line within {timeout:.0f} s; got {lines!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            raise AssertionError(f"process ended before {marker!r} (exit {proc.wait()}); got {lines!r}")
        buf += chunk


@dataclass
class Wine:
    """Runs Windows programs under the run's wineserver, inside the scratch namespace."""

    prefix: Path
    netns: str
    build: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
        env.update(WINEPREFIX=str(self.prefix), WINEDEBUG="-all", WINEDLLOVERRIDES="winemenubuilder.exe=d")
        return env

    def argv(self, program: Path | str, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.netns, str(WINE64), str(program), *args]

    @property
    def viprun(self) -> Path:
        return self.build / "x64" / "viprun.exe"

    def test_program(self, name: str) -> str:
        return winpath(self.build / "tests" / "x64" / f"{name}.exe")

    def run(self, program: Path | str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(program, *args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, program: Path | str, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            self.argv(program, *args), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.started.append(proc)
        return proc

    def ss_listening(self) -> list[str]:
        out = subprocess.run(
            ["ip", "netns", "exec", self.netns, "ss", "-ltnH"], capture_output=True, text=True, check=True
        ).stdout
        return [line.split()[3] for line in out.splitlines() if line.strip()]


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
    server: subprocess.Popen[bytes] | None = None
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
        server = subprocess.Popen(["ip", "netns", "exec", ns, str(WINESERVER), "-p", "-f"], env=w.env)
        # The first program starts Wine's helper processes (services.exe, ...), which outlive it
        # and inherit its stdio: give it a file, not a pipe, and wait for the process itself.
        warm = prefix / "warm-up.txt"
        with warm.open("w") as out:
            code = subprocess.run(
                w.argv(w.test_program("vip_testclient"), "hostname"),
                env=w.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=300, check=False,
            ).returncode  # fmt: skip
        assert code == 0 and warm.read_text().startswith("OK "), warm.read_text()
        yield w
    finally:
        subprocess.run([str(WINESERVER), "-k"], env=w.env, capture_output=True, check=False)
        if server is not None:
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        for proc in w.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        shutil.rmtree(prefix, ignore_errors=True)
