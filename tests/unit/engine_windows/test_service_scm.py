"""``vipctl service install|remove|status`` against a model of the service control manager.

pywin32 and the SCM exist only on Windows; this replaces exactly that boundary (the calls of
``win32service``, ``pywintypes``, ``win32evtlogutil`` and ``servicemanager`` the module makes)
with a small model that follows the documented API: handles that must be closed, services
created once, ``ERROR_SERVICE_DOES_NOT_EXIST`` (1060) and ``ERROR_SERVICE_NOT_ACTIVE`` (1062),
``ERROR_ACCESS_DENIED`` (5) for a user who is not an administrator, stop requests that pass
through ``stop_pending``. What the model cannot show (the real SCM's timing, the event log
source, recovery actions taking effect) is checked on a Windows host only.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from typing import Any

import pytest

from sessionnet_vip.cli import main
from sessionnet_vip.engine.windows import service

PY = "C:\\Program Files\\Python312\\python.exe"
CFG = "C:\\ProgramData\\sessionnet-vip\\engine.yml"
STOPPED, STOP_PENDING, RUNNING = 1, 3, 4


class Win32Error(Exception):
    def __init__(self, winerror: int, funcname: str, strerror: str) -> None:
        super().__init__(winerror, funcname, strerror)
        self.winerror, self.funcname, self.strerror = winerror, funcname, strerror


@dataclass
class Service:
    config: list[Any]
    state: int = STOPPED
    pid: int = 0
    stops_after: int = 1  # status queries a stop request stays pending for
    config2: dict[int, Any] = field(default_factory=dict)


@dataclass
class Scm:
    """The model: services by name, open handles, the calls made."""

    admin: bool = True
    services: dict[str, Service] = field(default_factory=dict)
    open_handles: set[int] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)
    next_handle: int = 100
    pending: dict[str, int] = field(default_factory=dict)

    def handle(self, target: str | None) -> tuple[int, str | None]:
        self.next_handle += 1
        self.open_handles.add(self.next_handle)
        return (self.next_handle, target)

    def module(self) -> types.ModuleType:
        m = types.ModuleType("win32service")
        consts = {
            "SC_MANAGER_ALL_ACCESS": 0xF003F, "SC_MANAGER_CONNECT": 1, "SERVICE_ALL_ACCESS": 0xF01FF,
            "SERVICE_QUERY_STATUS": 4, "SERVICE_QUERY_CONFIG": 1, "SERVICE_WIN32_OWN_PROCESS": 0x10,
            "SERVICE_AUTO_START": 2, "SERVICE_DEMAND_START": 3, "SERVICE_ERROR_NORMAL": 1,
            "SERVICE_CONFIG_DESCRIPTION": 1, "SERVICE_CONFIG_FAILURE_ACTIONS": 2, "SC_ACTION_RESTART": 1,
            "SERVICE_CONTROL_STOP": 1, "SERVICE_STOPPED": STOPPED,
        }
        for k, v in consts.items():
            setattr(m, k, v)

        def OpenSCManager(machine: Any, db: Any, access: int) -> Any:
            self.calls.append("OpenSCManager")
            if access != 1 and not self.admin:
                raise Win32Error(5, "OpenSCManager", "Access is denied.")
            return self.handle(None)

        def OpenService(scm: Any, name: str, access: int) -> Any:
            self.calls.append("OpenService")
            if name not in self.services:
                raise Win32Error(1060, "OpenService", "The specified service does not exist as an installed service.")
            return self.handle(name)

        def CreateService(scm: Any, name: str, display: str, access: int, kind: int, start: int, err: int,
                          command: str, *rest: Any) -> Any:
            self.calls.append("CreateService")
            assert name not in self.services
            self.services[name] = Service([kind, start, err, command, None, 0, None, "LocalSystem", display])
            return self.handle(name)

        def QueryServiceConfig(h: Any) -> Any:
            return tuple(self.services[h[1]].config)

        def ChangeServiceConfig(h: Any, kind: int, start: int, err: int, command: str, group: Any,
                                tag: Any, deps: Any, user: Any, password: Any, display: str) -> None:
            self.calls.append("ChangeServiceConfig")
            self.services[h[1]].config = [kind, start, err, command, None, 0, None, "LocalSystem", display]

        def ChangeServiceConfig2(h: Any, level: int, value: Any) -> None:
            self.services[h[1]].config2[level] = value

        def ControlService(h: Any, control: int) -> Any:
            self.calls.append("ControlService")
            svc = self.services[h[1]]
            if svc.state == STOPPED:
                raise Win32Error(1062, "ControlService", "The service has not been started.")
            svc.state = STOP_PENDING
            self.pending[h[1]] = svc.stops_after

        def QueryServiceStatus(h: Any) -> Any:
            svc = self.services[h[1]]
            if svc.state == STOP_PENDING:
                self.pending[h[1]] -= 1
                if self.pending[h[1]] < 0:
                    svc.state, svc.pid = STOPPED, 0
            return (0x10, svc.state, 0, 0, 0, 0, 0)

        def QueryServiceStatusEx(h: Any) -> Any:
            svc = self.services[h[1]]
            return {"CurrentState": svc.state, "ProcessId": svc.pid}

        def DeleteService(h: Any) -> None:
            self.calls.append("DeleteService")
            del self.services[h[1]]

        def CloseServiceHandle(h: Any) -> None:
            assert h[0] in self.open_handles, "closed twice or never opened"
            self.open_handles.remove(h[0])

        for fn in (OpenSCManager, OpenService, CreateService, QueryServiceConfig, ChangeServiceConfig,
                   ChangeServiceConfig2, ControlService, QueryServiceStatus, QueryServiceStatusEx,
                   DeleteService, CloseServiceHandle):
            setattr(m, fn.__name__, fn)
        return m


class Pause:
    """``threading.Event`` whose waits return at once (the stop polling)."""

    def wait(self, timeout: float | None = None) -> bool:
        return False


@pytest.fixture
def scm(monkeypatch: pytest.MonkeyPatch) -> Scm:
    model = Scm()
    pywintypes = types.ModuleType("pywintypes")
    pywintypes.error = Win32Error  # type: ignore[attr-defined]
    evtlog = types.ModuleType("win32evtlogutil")
    evtlog.AddSourceToRegistry = lambda name, dll: model.sources.add(name)  # type: ignore[attr-defined]

    def remove_source(name: str) -> None:
        if name not in model.sources:
            raise Win32Error(2, "RegDeleteKey", "The system cannot find the file specified.")
        model.sources.remove(name)

    evtlog.RemoveSourceFromRegistry = remove_source  # type: ignore[attr-defined]
    servicemanager = types.ModuleType("servicemanager")
    servicemanager.__file__ = "C:\\Python312\\Lib\\site-packages\\win32\\servicemanager.pyd"
    for name, mod in (
        ("win32service", model.module()),
        ("pywintypes", pywintypes),
        ("win32evtlogutil", evtlog),
        ("servicemanager", servicemanager),
        ("win32serviceutil", types.ModuleType("win32serviceutil")),
    ):
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(service.threading, "Event", Pause)
    return model


def test_install_creates_then_is_idempotent_then_updates(scm: Scm) -> None:
    assert service.install("sessionnet-vip", PY, CFG) is True
    svc = scm.services["sessionnet-vip"]
    assert svc.config[3] == service.service_command(PY, CFG)
    assert svc.config[1] == 2 and svc.config[8] == service.DISPLAY_NAME
    assert svc.config2[1] == service.DESCRIPTION and "Actions" in svc.config2[2]
    assert scm.sources == {"sessionnet-vip"}
    assert service.install("sessionnet-vip", PY, CFG) is False
    assert scm.calls.count("ChangeServiceConfig") == 0
    assert service.install("sessionnet-vip", PY, CFG, start="manual") is True
    assert scm.services["sessionnet-vip"].config[1] == 3
    assert scm.calls.count("CreateService") == 1
    assert scm.open_handles == set()


def test_status_before_and_after_install(scm: Scm) -> None:
    assert service.status("sessionnet-vip") == service.ServiceStatus("sessionnet-vip", False)
    service.install("sessionnet-vip", PY, CFG)
    scm.services["sessionnet-vip"].state, scm.services["sessionnet-vip"].pid = RUNNING, 4242
    st = service.status("sessionnet-vip")
    assert (st.installed, st.state, st.start_type, st.pid) == (True, "running", "auto", 4242)
    assert st.command == service.service_command(PY, CFG)
    assert scm.open_handles == set()


def test_remove_stops_a_running_service_then_deletes_it(scm: Scm) -> None:
    service.install("sessionnet-vip", PY, CFG)
    scm.services["sessionnet-vip"].state = RUNNING
    scm.services["sessionnet-vip"].stops_after = 3
    assert service.remove("sessionnet-vip") is True
    assert "sessionnet-vip" not in scm.services and scm.sources == set()
    assert scm.calls[-2:] == ["ControlService", "DeleteService"]
    assert service.remove("sessionnet-vip") is False
    assert scm.open_handles == set()


def test_remove_of_a_stopped_service_and_of_a_missing_event_source(scm: Scm) -> None:
    service.install("sessionnet-vip", PY, CFG)
    scm.sources.clear()
    assert service.remove("sessionnet-vip") is True
    assert scm.open_handles == set()


def test_a_service_that_does_not_stop_is_not_deleted(scm: Scm) -> None:
    service.install("sessionnet-vip", PY, CFG)
    scm.services["sessionnet-vip"].state = RUNNING
    scm.services["sessionnet-vip"].stops_after = 1000
    with pytest.raises(service.ServiceError, match="still stop_pending; stop it, then remove it again"):
        service.remove("sessionnet-vip")
    assert "sessionnet-vip" in scm.services
    assert scm.open_handles == set()


def test_not_an_administrator_gets_a_clear_refusal_and_nothing_changes(
    scm: Scm, capsys: pytest.CaptureFixture[str]
) -> None:
    scm.admin = False
    with pytest.raises(service.ServiceError, match="Access is denied.*run it as an administrator"):
        service.install("sessionnet-vip", PY, CFG)
    with pytest.raises(service.ServiceError, match="administrator"):
        service.remove("sessionnet-vip")
    assert service.status("sessionnet-vip").installed is False  # query access suffices
    assert scm.services == {} and scm.sources == set() and scm.open_handles == set()
    assert main(["service", "remove"]) == 2
    err = capsys.readouterr().err
    assert "administrator" in err and "Traceback" not in err
