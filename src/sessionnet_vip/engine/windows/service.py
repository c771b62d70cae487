"""The engine as a Windows service: ``vipctl service install|remove|status|run``.

Uses pywin32's service framework (``pip install "sessionnet-vip[windows]"``; pywin32 is
imported on first use, so the rest of the package needs none). The service's command line is
the Python the package is installed in running ``-m sessionnet_vip service run --config
FILE``: that process calls ``StartServiceCtrlDispatcher`` itself
(``servicemanager.PrepareToHostSingle`` + ``StartServiceCtrlDispatcher``), so the service
control manager gets its answer (a bare ``python.exe -m sessionnet_vip serve`` never does and
fails with error 1053, Microsoft Learn "StartServiceCtrlDispatcherW").

The service runs as LocalSystem, starts automatically, restarts after a failure (three times,
5 s apart; the count resets after a day), writes its log to
``%ProgramData%\\sessionnet-vip\\engine.log`` (rotated, 5 x 5 MB) and its start, stop and
fatal errors to the Application event log (source = the service name). Prometheus metrics
are served as on Linux when ``metrics_port`` is set.

The pure parts (command line, paths, state names, argument checks) are tested on any
platform; the SCM calls are only type-checked here (``mypy --platform win32``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import ntpath
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

# Kept light at import: vipctl loads this module to register its sub-commands (start-up time);
# subprocess, pathlib and logging.handlers are imported where they are used.
from sessionnet_vip.errors import VipError

log = logging.getLogger("sessionnet_vip.engine")

DEFAULT_SERVICE_NAME: Final = "sessionnet-vip"
DISPLAY_NAME: Final = "sessionnet-vip engine"
DESCRIPTION: Final = (
    "Per-session virtual IP and loopback addresses: leases, WTS sessions, pool addresses and the "
    "placement answers for viprun.exe over \\\\.\\pipe\\sessionnet-vip."
)
LOG_NAME: Final = "engine.log"
#: SERVICE_STATUS dwCurrentState values (winsvc.h).
STATES: Final = {
    1: "stopped",
    2: "start_pending",
    3: "stop_pending",
    4: "running",
    5: "continue_pending",
    6: "pause_pending",
    7: "paused",
}
#: dwStartType values (winsvc.h).
START_TYPES: Final = {2: "auto", 3: "manual", 4: "disabled"}
ERROR_SERVICE_DOES_NOT_EXIST: Final = 1060
ERROR_SERVICE_NOT_ACTIVE: Final = 1062
ERROR_FAILED_SERVICE_CONTROLLER_CONNECT: Final = 1063
NOT_WINDOWS: Final = "'vipctl service' manages a Windows service; on Linux use systemd or vipctl supervise"
PYWIN32_MISSING: Final = (
    "the Windows service needs pywin32: install the package with its Windows extra, "
    'python -m pip install "sessionnet-vip[windows]"'
)


class ServiceError(VipError):
    """A service command cannot be carried out."""


def service_command(python: str, config: str) -> str:
    """The service's command line (``ImagePath``), quoted the Windows way."""
    import subprocess

    return subprocess.list2cmdline([python, "-m", "sessionnet_vip", "service", "run", "--config", config])


def check_install(python: str, config: str, name: str) -> None:
    """Refuse what the SCM would store and fail with later: relative paths, a non-.exe Python,
    a service name with separators."""
    if not ntpath.isabs(python) or not ntpath.splitdrive(python)[0] or not python.lower().endswith(".exe"):
        raise ServiceError(
            f"--python {python!r}: give the full path of python.exe, e.g. 'C:\\Program Files\\Python312\\python.exe'"
        )
    if not ntpath.isabs(config) or not ntpath.splitdrive(config)[0]:
        raise ServiceError(f"--config {config!r}: give the full path of the engine configuration file")
    if '"' in python or '"' in config:
        raise ServiceError("--python and --config must not contain quotes")
    if not name or len(name) > 256 or any(c in name for c in "/\\") or name.strip() != name:
        raise ServiceError(
            f"--name {name!r}: give a service name without '/' or '\\' (at most 256 characters)"
        )


def default_log_path(environ: Mapping[str, str]) -> str:
    """``%ProgramData%\\sessionnet-vip\\engine.log`` (``C:\\ProgramData`` when unset)."""
    base = environ.get("ProgramData") or environ.get("PROGRAMDATA") or "C:\\ProgramData"
    return ntpath.join(base, "sessionnet-vip", LOG_NAME)


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    installed: bool
    state: str | None = None
    start_type: str | None = None
    command: str | None = None
    pid: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "installed": self.installed,
            "state": self.state,
            "start_type": self.start_type,
            "command": self.command,
            "pid": self.pid,
        }

    def describe(self) -> str:
        if not self.installed:
            return f"service {self.name}: not installed (vipctl service install --config FILE)"
        return (
            f"service {self.name}: {self.state} (start {self.start_type}, pid {self.pid or '-'})\n"
            f"command {self.command}"
        )


def state_name(code: int) -> str:
    return STATES.get(code, f"unknown ({code})")


# --- the SCM boundary (pywin32) ------------------------------------------------------------
def _pywin32() -> Any:
    if sys.platform != "win32":
        raise ServiceError(NOT_WINDOWS)
    try:
        import servicemanager  # noqa: F401
        import win32service  # noqa: F401
        import win32serviceutil  # noqa: F401
    except ImportError:
        raise ServiceError(PYWIN32_MISSING) from None
    return True


def _open_service(scm: Any, name: str, access: int) -> Any | None:
    """The handle of service ``name``; ``None`` when it is not installed."""
    import pywintypes
    import win32service

    try:
        return win32service.OpenService(scm, name, access)
    except pywintypes.error as exc:
        if exc.winerror == ERROR_SERVICE_DOES_NOT_EXIST:
            return None
        raise ServiceError(f"cannot open service {name}: {exc.strerror}") from None


@contextlib.contextmanager
def _service(name: str, scm_access: int, access: int) -> Iterator[tuple[Any, Any | None]]:
    """The service control manager and service ``name`` (``None`` when it is not installed),
    both closed on the way out; a refused SCM (not an administrator) is a :class:`ServiceError`."""
    import pywintypes
    import win32service

    try:
        scm = win32service.OpenSCManager(None, None, scm_access)
    except pywintypes.error as exc:
        raise ServiceError(
            f"cannot open the service control manager: {exc.strerror}; run it as an administrator"
        ) from None
    try:
        handle = _open_service(scm, name, access)
        try:
            yield scm, handle
        finally:
            if handle is not None:
                win32service.CloseServiceHandle(handle)
    finally:
        win32service.CloseServiceHandle(scm)


def install(name: str, python: str, config: str, *, start: str = "auto") -> bool:
    """Create or update the service; ``True`` when something changed."""
    check_install(python, config, name)
    if sys.platform != "win32":
        raise ServiceError(NOT_WINDOWS)
    _pywin32()
    import servicemanager
    import win32evtlogutil
    import win32service

    command = service_command(python, config)
    start_type = {"auto": win32service.SERVICE_AUTO_START, "manual": win32service.SERVICE_DEMAND_START}[start]
    with _service(name, win32service.SC_MANAGER_ALL_ACCESS, win32service.SERVICE_ALL_ACCESS) as (scm, found):
        changed = found is None
        if found is None:
            created = win32service.CreateService(
                scm,
                name,
                DISPLAY_NAME,
                win32service.SERVICE_ALL_ACCESS,
                win32service.SERVICE_WIN32_OWN_PROCESS,
                start_type,
                win32service.SERVICE_ERROR_NORMAL,
                command,
                None,
                False,
                None,
                None,
                None,
            )
            try:
                _configure(created, start_type, command, changed=True)
            finally:
                win32service.CloseServiceHandle(created)
        else:
            changed = _configure(found, start_type, command, changed=False)
    win32evtlogutil.AddSourceToRegistry(name, servicemanager.__file__)
    return changed


def _configure(handle: Any, start_type: int, command: str, *, changed: bool) -> bool:
    """Bring the service's start type, command, display name, description and recovery actions to
    ours; ``True`` when it was created (``changed``) or its configuration differed."""
    import win32service

    current = win32service.QueryServiceConfig(handle)
    if not changed and (current[1] != start_type or current[3] != command or current[8] != DISPLAY_NAME):
        win32service.ChangeServiceConfig(
            handle,
            win32service.SERVICE_WIN32_OWN_PROCESS,
            start_type,
            win32service.SERVICE_ERROR_NORMAL,
            command,
            None,
            False,
            None,
            None,
            None,
            DISPLAY_NAME,
        )
        changed = True
    win32service.ChangeServiceConfig2(handle, win32service.SERVICE_CONFIG_DESCRIPTION, DESCRIPTION)
    win32service.ChangeServiceConfig2(
        handle,
        win32service.SERVICE_CONFIG_FAILURE_ACTIONS,
        {
            "ResetPeriod": 86400,
            "RebootMsg": None,
            "Command": None,
            "Actions": [(win32service.SC_ACTION_RESTART, 5000)] * 3,
        },
    )
    return changed


def _wait_state(handle: Any, wanted: int, attempts: int = 60) -> int:
    """Poll the SCM (the documented way to follow a pending state) until ``wanted``."""
    import win32service

    state = int(win32service.QueryServiceStatus(handle)[1])
    pause = threading.Event()
    for _attempt in range(attempts):
        if state == wanted:
            break
        pause.wait(0.5)
        state = int(win32service.QueryServiceStatus(handle)[1])
    return state


def remove(name: str) -> bool:
    """Stop and delete the service; ``False`` when it was not installed."""
    if sys.platform != "win32":
        raise ServiceError(NOT_WINDOWS)
    _pywin32()
    import pywintypes
    import win32evtlogutil
    import win32service

    everything = (win32service.SC_MANAGER_ALL_ACCESS, win32service.SERVICE_ALL_ACCESS)
    with _service(name, *everything) as (_scm, handle):
        if handle is None:
            return False
        try:
            win32service.ControlService(handle, win32service.SERVICE_CONTROL_STOP)
        except pywintypes.error as exc:
            if exc.winerror != ERROR_SERVICE_NOT_ACTIVE:
                raise ServiceError(f"cannot stop service {name}: {exc.strerror}") from None
        state = _wait_state(handle, win32service.SERVICE_STOPPED)
        if state != win32service.SERVICE_STOPPED:
            raise ServiceError(f"service {name} is still {state_name(state)}; stop it, then remove it again")
        win32service.DeleteService(handle)
    try:
        win32evtlogutil.RemoveSourceFromRegistry(name)
    except pywintypes.error:
        log.info("event log source %s was not registered", name)
    return True


def status(name: str) -> ServiceStatus:
    if sys.platform != "win32":
        raise ServiceError(NOT_WINDOWS)
    _pywin32()
    import win32service

    query = win32service.SERVICE_QUERY_STATUS | win32service.SERVICE_QUERY_CONFIG
    with _service(name, win32service.SC_MANAGER_CONNECT, query) as (_scm, handle):
        if handle is None:
            return ServiceStatus(name, False)
        config = win32service.QueryServiceConfig(handle)
        current: Any = win32service.QueryServiceStatusEx(handle)  # a dict (pywin32 docs)
    return ServiceStatus(
        name,
        True,
        state_name(int(current["CurrentState"])),
        START_TYPES.get(int(config[1]), str(config[1])),
        str(config[3]),
        int(current["ProcessId"]) or None,
    )


#: HandlerEx control codes and the matching "accept" bit (winsvc.h; Microsoft Learn,
#: "LPHANDLER_FUNCTION_EX callback function"): session logon/logoff/connect/disconnect events.
SERVICE_CONTROL_SESSIONCHANGE: Final = 14
SERVICE_ACCEPT_SESSIONCHANGE: Final = 0x80


class SessionRelay:
    """Forwards the SCM's session-change notifications to the running engine (if any)."""

    def __init__(self) -> None:
        self.engine: Any = None

    def attach(self, engine: Any) -> None:
        self.engine = engine

    def control(self, control: int) -> bool:
        """Handle a control the framework did not; ``True`` when it was a session change."""
        if control != SERVICE_CONTROL_SESSIONCHANGE:
            return False
        engine = self.engine
        if engine is not None:
            engine.notify_session_change()
        return True


def run(config_path: str, log_path: str) -> int:
    """The service process: hand this process to the SCM, which calls the engine's body."""
    if sys.platform != "win32":
        raise ServiceError("'vipctl service run' is started by the Windows service manager")
    _pywin32()
    import pywintypes
    import servicemanager
    import win32event
    import win32service
    import win32serviceutil

    class EngineService(win32serviceutil.ServiceFramework):
        _svc_name_ = DEFAULT_SERVICE_NAME
        _svc_display_name_ = DISPLAY_NAME

        def __init__(self, args: Any) -> None:
            super().__init__(args)
            self.stop_event = threading.Event()
            self.wake = win32event.CreateEvent(None, 0, 0, None)
            self.sessions = SessionRelay()

        def GetAcceptedControls(self) -> int:
            base: Any = super()
            return int(base.GetAcceptedControls()) | SERVICE_ACCEPT_SESSIONCHANGE

        def SvcOtherEx(self, control: int, event_type: int, data: Any) -> None:
            if not self.sessions.control(control):
                base: Any = super()
                base.SvcOtherEx(control, event_type, data)

        def SvcStop(self) -> None:
            self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING)
            self.stop_event.set()
            win32event.SetEvent(self.wake)

        def SvcDoRun(self) -> None:
            from sessionnet_vip.engine.config import load_config
            from sessionnet_vip.engine.windows.agentplane import serve

            setup_file_log(log_path)
            servicemanager.LogInfoMsg(f"{DISPLAY_NAME} starting (config {config_path}, log {log_path})")
            try:
                serve(load_config(config_path), stop=self.stop_event, started=self.sessions.attach)
            except VipError as exc:
                log.error("%s", exc)
                servicemanager.LogErrorMsg(f"{DISPLAY_NAME} stopped: {exc}")
                return
            except Exception as exc:
                log.exception("engine failed")
                servicemanager.LogErrorMsg(f"{DISPLAY_NAME} failed: {type(exc).__name__}: {exc}")
                raise
            servicemanager.LogInfoMsg(f"{DISPLAY_NAME} stopped")

    servicemanager.Initialize()
    servicemanager.PrepareToHostSingle(EngineService)
    try:
        cast(Any, servicemanager).StartServiceCtrlDispatcher()
    except pywintypes.error as exc:
        if exc.winerror == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT:
            raise ServiceError(
                "'vipctl service run' is started by the Windows service manager; to run the engine in "
                "this console use 'vipctl serve --config FILE'"
            ) from None
        raise
    return 0


def setup_file_log(path: str) -> None:
    """Log to ``path`` (rotated, 5 x 5 MB), creating its directory."""
    import logging.handlers
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=5 * 1024 * 1024, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


# --- vipctl service ---------------------------------------------------------------------------
def _cmd_install(args: argparse.Namespace) -> int:
    from sessionnet_vip.cli import emit
    from sessionnet_vip.engine.config import load_config

    config = str(args.config)
    load_config(config, platform="windows")  # refuse a bad config before registering anything
    changed = install(args.name, args.python or sys.executable, config, start=args.start)
    emit(
        args,
        {"name": args.name, "changed": changed},
        f"service {args.name} {'installed' if changed else 'unchanged'}",
    )
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    from sessionnet_vip.cli import emit

    removed = remove(args.name)
    emit(
        args,
        {"name": args.name, "changed": removed},
        f"service {args.name} {'removed' if removed else 'was not installed'}",
    )
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from sessionnet_vip.cli import emit

    st = status(args.name)
    emit(args, st.to_json(), st.describe())
    return 0 if st.installed and st.state == "running" else 3


def _cmd_run(args: argparse.Namespace) -> int:
    return run(str(args.config), args.log or default_log_path(os.environ))
