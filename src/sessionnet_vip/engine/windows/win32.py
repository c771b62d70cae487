"""The ctypes boundary of the Windows engine: thin wrappers over Win32 calls, no decisions.

Every function here calls one or a few documented Win32 functions and returns plain Python
values (or raw bytes) to the pure modules beside it, which decide. Nothing here runs on
Linux: the DLLs are loaded on first use, and ``mypy --platform win32`` type-checks this file
(the Linux run skips it). Sources, all Microsoft Learn (https://learn.microsoft.com):

* named pipes: ``CreateNamedPipeW``, ``ConnectNamedPipe``, ``DisconnectNamedPipe``,
  ``GetNamedPipeClientSessionId``, ``GetNamedPipeClientProcessId``,
  ``ImpersonateNamedPipeClient`` (win32/api/namedpipeapi, win32/api/winbase);
* tokens: ``OpenThreadToken``, ``GetTokenInformation`` (``TokenUser``),
  ``CheckTokenMembership``, ``ConvertSidToStringSidW``, ``RevertToSelf``,
  ``ConvertStringSecurityDescriptorToSecurityDescriptorW`` (win32/api/securitybaseapi,
  win32/api/sddl);
* WTS: ``WTSEnumerateSessionsW``, ``WTSQuerySessionInformationW``, ``WTSFreeMemory``
  (win32/api/wtsapi32);
* IP Helper: ``GetUnicastIpAddressTable``, ``InitializeUnicastIpAddressEntry``,
  ``CreateUnicastIpAddressEntry``, ``DeleteUnicastIpAddressEntry``, ``FreeMibTable``,
  ``ConvertInterfaceLuidToGuid`` (win32/api/netioapi);
* registry: ``RegCreateKeyExW`` with ``REG_OPTION_VOLATILE`` (win32/api/winreg).
"""

from __future__ import annotations

import ctypes
import functools
import sys
import uuid
from ctypes import wintypes
from typing import Any, Final

assert sys.platform == "win32", "sessionnet_vip.engine.windows.win32 is for Windows"

INVALID_HANDLE_VALUE: Final = ctypes.c_void_p(-1).value
ERROR_PIPE_CONNECTED: Final = 535
ERROR_PIPE_BUSY: Final = 231
ERROR_BROKEN_PIPE: Final = 109
ERROR_MORE_DATA: Final = 234
ERROR_NO_DATA: Final = 232
ERROR_FILE_NOT_FOUND: Final = 2
ERROR_ACCESS_DENIED: Final = 5
ERROR_OBJECT_ALREADY_EXISTS: Final = 5010
PIPE_ACCESS_DUPLEX: Final = 0x00000003
FILE_FLAG_FIRST_PIPE_INSTANCE: Final = 0x00080000
PIPE_TYPE_BYTE: Final = 0x0
PIPE_READMODE_BYTE: Final = 0x0
PIPE_WAIT: Final = 0x0
PIPE_REJECT_REMOTE_CLIENTS: Final = 0x00000008
PIPE_UNLIMITED_INSTANCES: Final = 255
GENERIC_READ: Final = 0x80000000
FILE_WRITE_DATA: Final = 0x0002
OPEN_EXISTING: Final = 3
TOKEN_QUERY: Final = 0x0008
TOKEN_USER_CLASS: Final = 1
SDDL_REVISION_1: Final = 1
REG_OPTION_VOLATILE: Final = 0x00000001
KEY_ALL_ACCESS: Final = 0xF003F


class WinError(OSError):
    """A Win32 call failed: ``winerror`` is GetLastError()'s code."""


@functools.cache
def _dll(name: str) -> ctypes.WinDLL:
    try:
        return ctypes.WinDLL(name, use_last_error=True)
    except (AttributeError, OSError) as exc:  # AttributeError: a Python without WinDLL
        raise WinError(f"cannot load {name}.dll: {exc}") from None


def _fail(call: str) -> WinError:
    code = ctypes.get_last_error()
    err = WinError(f"{call}: {ctypes.FormatError(code).strip()} (error {code})")
    err.winerror = code
    return err


class SECURITY_ATTRIBUTES(ctypes.Structure):
    _fields_ = [
        ("nLength", wintypes.DWORD),
        ("lpSecurityDescriptor", ctypes.c_void_p),
        ("bInheritHandle", wintypes.BOOL),
    ]


# --- named pipes -----------------------------------------------------------------------------
def security_attributes(sddl: str) -> SECURITY_ATTRIBUTES:
    """A SECURITY_ATTRIBUTES holding the security descriptor of ``sddl`` (kept for the process
    lifetime: a pipe instance is created with it for every client)."""
    sd = ctypes.c_void_p()
    ok = _dll("advapi32").ConvertStringSecurityDescriptorToSecurityDescriptorW(
        ctypes.c_wchar_p(sddl), SDDL_REVISION_1, ctypes.byref(sd), None
    )
    if not ok:
        raise _fail("ConvertStringSecurityDescriptorToSecurityDescriptorW")
    return SECURITY_ATTRIBUTES(ctypes.sizeof(SECURITY_ATTRIBUTES), sd.value, False)


def create_pipe_instance(name: str, sa: SECURITY_ATTRIBUTES, *, first: bool, buffer: int) -> int:
    """One server instance of pipe ``name`` (byte mode, blocking, local clients only)."""
    kernel32 = _dll("kernel32")
    kernel32.CreateNamedPipeW.restype = wintypes.HANDLE
    kernel32.CreateNamedPipeW.argtypes = [
        wintypes.LPCWSTR, wintypes.DWORD, wintypes.DWORD, wintypes.DWORD,
        wintypes.DWORD, wintypes.DWORD, wintypes.DWORD, ctypes.POINTER(SECURITY_ATTRIBUTES),
    ]  # fmt: skip
    handle = kernel32.CreateNamedPipeW(
        ctypes.c_wchar_p(name),
        PIPE_ACCESS_DUPLEX | (FILE_FLAG_FIRST_PIPE_INSTANCE if first else 0),
        PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
        PIPE_UNLIMITED_INSTANCES,
        buffer,
        buffer,
        0,
        ctypes.byref(sa),
    )
    if handle is None or handle == INVALID_HANDLE_VALUE:
        raise _fail(f"CreateNamedPipeW({name})")
    return int(handle)


def connect_pipe(handle: int) -> None:
    """Wait for a client on ``handle`` (a client that connected first is fine)."""
    connected = _dll("kernel32").ConnectNamedPipe(wintypes.HANDLE(handle), None)
    if not connected and ctypes.get_last_error() != ERROR_PIPE_CONNECTED:
        raise _fail("ConnectNamedPipe")


def disconnect_pipe(handle: int) -> None:
    kernel32 = _dll("kernel32")
    kernel32.FlushFileBuffers(wintypes.HANDLE(handle))
    kernel32.DisconnectNamedPipe(wintypes.HANDLE(handle))


def close_handle(handle: int) -> None:
    _dll("kernel32").CloseHandle(wintypes.HANDLE(handle))


def read_handle(handle: int, size: int) -> bytes:
    """Up to ``size`` bytes; ``b""`` when the other end closed."""
    buf = ctypes.create_string_buffer(size)
    got = wintypes.DWORD()
    if not _dll("kernel32").ReadFile(wintypes.HANDLE(handle), buf, size, ctypes.byref(got), None):
        code = ctypes.get_last_error()
        if code in (ERROR_BROKEN_PIPE, ERROR_NO_DATA):
            return b""
        if code != ERROR_MORE_DATA:
            raise _fail("ReadFile")
    return buf.raw[: got.value]


def write_handle(handle: int, data: bytes) -> int:
    done = wintypes.DWORD()
    if not _dll("kernel32").WriteFile(wintypes.HANDLE(handle), data, len(data), ctypes.byref(done), None):
        raise _fail("WriteFile")
    return int(done.value)


def pipe_client_session(handle: int) -> int:
    value = wintypes.ULONG()
    if not _dll("kernel32").GetNamedPipeClientSessionId(wintypes.HANDLE(handle), ctypes.byref(value)):
        raise _fail("GetNamedPipeClientSessionId")
    return int(value.value)


def pipe_client_pid(handle: int) -> int | None:
    value = wintypes.ULONG()
    if not _dll("kernel32").GetNamedPipeClientProcessId(wintypes.HANDLE(handle), ctypes.byref(value)):
        return None
    return int(value.value)


SYSTEM_SID: Final = "S-1-5-18"
ADMINISTRATORS_SID: Final = "S-1-5-32-544"


def _sid_string(psid: int) -> str:
    text = ctypes.c_wchar_p()
    if not _dll("advapi32").ConvertSidToStringSidW(ctypes.c_void_p(psid), ctypes.byref(text)):
        raise _fail("ConvertSidToStringSidW")
    try:
        return str(text.value)
    finally:
        _dll("kernel32").LocalFree(text)


def _sid_of_string(sid: str) -> ctypes.c_void_p:
    psid = ctypes.c_void_p()
    if not _dll("advapi32").ConvertStringSidToSidW(ctypes.c_wchar_p(sid), ctypes.byref(psid)):
        raise _fail("ConvertStringSidToSidW")
    return psid


def pipe_client_token_facts(handle: int) -> tuple[str, bool]:
    """``(user SID, enabled member of Administrators)`` of the client of ``handle``, read by
    impersonating it on this thread (after data was read from the pipe, as the API requires)
    and always reverting."""
    advapi32 = _dll("advapi32")
    kernel32 = _dll("kernel32")
    if not advapi32.ImpersonateNamedPipeClient(wintypes.HANDLE(handle)):
        raise _fail("ImpersonateNamedPipeClient")
    token = wintypes.HANDLE()
    kernel32.GetCurrentThread.restype = wintypes.HANDLE
    this_thread = wintypes.HANDLE(kernel32.GetCurrentThread())
    try:
        if not advapi32.OpenThreadToken(this_thread, TOKEN_QUERY, True, ctypes.byref(token)):
            raise _fail("OpenThreadToken")
    finally:
        if not advapi32.RevertToSelf():
            # a thread left impersonating would act as the client: stop the process
            raise SystemExit("RevertToSelf failed after ImpersonateNamedPipeClient; stopping")
    try:
        size = wintypes.DWORD()
        advapi32.GetTokenInformation(token, TOKEN_USER_CLASS, None, 0, ctypes.byref(size))
        buf = ctypes.create_string_buffer(size.value)
        if not advapi32.GetTokenInformation(token, TOKEN_USER_CLASS, buf, size, ctypes.byref(size)):
            raise _fail("GetTokenInformation(TokenUser)")
        psid = ctypes.c_void_p.from_buffer(buf).value or 0  # TOKEN_USER.User.Sid comes first
        user_sid = _sid_string(psid)
        admins = _sid_of_string(ADMINISTRATORS_SID)
        member = wintypes.BOOL()
        try:
            # an impersonation token: CheckTokenMembership counts enabled groups only, so a
            # UAC-filtered (not elevated) administrator is an ordinary user here
            if not advapi32.CheckTokenMembership(token, admins, ctypes.byref(member)):
                raise _fail("CheckTokenMembership")
        finally:
            kernel32.LocalFree(admins)
        return user_sid, bool(member.value)
    finally:
        kernel32.CloseHandle(token)


def open_pipe_client(name: str, timeout_ms: int) -> int:
    """Client end of pipe ``name`` with read + write-data access (not FILE_APPEND_DATA, which
    for a pipe is the right to create instances and is not granted to users)."""
    kernel32 = _dll("kernel32")
    kernel32.CreateFileW.restype = wintypes.HANDLE
    kernel32.CreateFileW.argtypes = [
        wintypes.LPCWSTR, wintypes.DWORD, wintypes.DWORD, ctypes.c_void_p,
        wintypes.DWORD, wintypes.DWORD, wintypes.HANDLE,
    ]  # fmt: skip
    for _attempt in range(2):
        handle = kernel32.CreateFileW(
            ctypes.c_wchar_p(name), GENERIC_READ | FILE_WRITE_DATA, 0, None, OPEN_EXISTING, 0, None
        )
        if handle is not None and handle != INVALID_HANDLE_VALUE:
            return int(handle)
        if ctypes.get_last_error() != ERROR_PIPE_BUSY:
            break
        kernel32.WaitNamedPipeW(ctypes.c_wchar_p(name), timeout_ms)
    raise _fail(f"CreateFileW({name})")


# --- WTS --------------------------------------------------------------------------------------
class WTS_SESSION_INFOW(ctypes.Structure):
    _fields_ = [
        ("SessionId", wintypes.DWORD),
        ("pWinStationName", ctypes.c_wchar_p),
        ("State", ctypes.c_int),
    ]


def wts_sessions() -> list[tuple[int, int]]:
    """``(session ID, WTS_CONNECTSTATE_CLASS)`` of every session on this host."""
    wtsapi32 = _dll("wtsapi32")
    info = ctypes.POINTER(WTS_SESSION_INFOW)()
    count = wintypes.DWORD()
    if not wtsapi32.WTSEnumerateSessionsW(None, 0, 1, ctypes.byref(info), ctypes.byref(count)):
        raise _fail("WTSEnumerateSessionsW")
    try:
        return [(int(info[i].SessionId), int(info[i].State)) for i in range(count.value)]
    finally:
        wtsapi32.WTSFreeMemory(info)


def wts_query(session_id: int, info_class: int) -> bytes:
    """The raw buffer of ``WTSQuerySessionInformationW(session_id, info_class)``."""
    wtsapi32 = _dll("wtsapi32")
    buf = ctypes.c_void_p()
    size = wintypes.DWORD()
    if not wtsapi32.WTSQuerySessionInformationW(
        None, session_id, info_class, ctypes.byref(buf), ctypes.byref(size)
    ):
        raise _fail(f"WTSQuerySessionInformationW({session_id}, {info_class})")
    try:
        return ctypes.string_at(buf.value or 0, size.value)
    finally:
        wtsapi32.WTSFreeMemory(buf)


def volatile_boot_id(subkey: str, value: str) -> str:
    """A random ID kept in a volatile registry key (gone at the next boot): read it, or create
    it when this is the first engine start since boot."""
    import winreg

    advapi32 = _dll("advapi32")
    key = wintypes.HKEY()
    disposition = wintypes.DWORD()
    status = advapi32.RegCreateKeyExW(
        wintypes.HKEY(winreg.HKEY_LOCAL_MACHINE),  # the sign-extended predefined handle
        ctypes.c_wchar_p(subkey),
        0,
        None,
        REG_OPTION_VOLATILE,
        KEY_ALL_ACCESS,
        None,
        ctypes.byref(key),
        ctypes.byref(disposition),
    )
    if status != 0:
        err = WinError(f"RegCreateKeyExW(HKLM\\{subkey}): {ctypes.FormatError(status).strip()}")
        err.winerror = status
        raise err
    handle = int(ctypes.cast(key, ctypes.c_void_p).value or 0)
    try:
        try:
            found, _kind = winreg.QueryValueEx(handle, value)
            return str(found)
        except FileNotFoundError:
            new = str(uuid.uuid4())
            winreg.SetValueEx(handle, value, 0, winreg.REG_SZ, new)
            return new
    finally:
        advapi32.RegCloseKey(key)


# --- IP Helper --------------------------------------------------------------------------------
def unicast_table() -> bytes:
    """The raw IPv4 ``MIB_UNICASTIPADDRESS_TABLE`` (header and rows) of this host."""
    from sessionnet_vip.engine.windows import AF_INET
    from sessionnet_vip.engine.windows.addresses import MIB_UNICASTIPADDRESS_ROW

    iphlpapi = _dll("iphlpapi")
    table = ctypes.c_void_p()
    status = iphlpapi.GetUnicastIpAddressTable(AF_INET, ctypes.byref(table))
    if status != 0:
        raise WinError(f"GetUnicastIpAddressTable: {ctypes.FormatError(status).strip()} (error {status})")
    try:
        count = ctypes.c_ulong.from_address(table.value or 0).value
        size = 8 + count * ctypes.sizeof(MIB_UNICASTIPADDRESS_ROW)
        return ctypes.string_at(table.value or 0, size)
    finally:
        iphlpapi.FreeMibTable(table)


def create_unicast(row: Any) -> int:
    """``CreateUnicastIpAddressEntry(row)``; returns the Win32 status (0: added)."""
    return int(_dll("iphlpapi").CreateUnicastIpAddressEntry(ctypes.byref(row)))


def delete_unicast(row: Any) -> int:
    return int(_dll("iphlpapi").DeleteUnicastIpAddressEntry(ctypes.byref(row)))


def initialize_unicast(row: Any) -> None:
    _dll("iphlpapi").InitializeUnicastIpAddressEntry(ctypes.byref(row))


def interface_guid(luid: int) -> str:
    """The ``{GUID}`` of the interface with ``luid`` (its key under Tcpip\\Parameters\\Interfaces)."""
    guid = (ctypes.c_ubyte * 16)()
    status = _dll("iphlpapi").ConvertInterfaceLuidToGuid(ctypes.byref(ctypes.c_uint64(luid)), guid)
    if status != 0:
        raise WinError(f"ConvertInterfaceLuidToGuid: error {status}")
    return "{" + str(uuid.UUID(bytes_le=bytes(guid))).upper() + "}"


def interface_dhcp_enabled(guid: str) -> bool | None:
    """``EnableDHCP`` of the interface's TCP/IP parameters (``None`` when not recorded)."""
    import winreg

    path = f"SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\Interfaces\\{guid}"
    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path) as key:
            value, _kind = winreg.QueryValueEx(key, "EnableDHCP")
    except OSError:
        return None
    return bool(value)


def format_error(code: int) -> str:
    return ctypes.FormatError(code).strip()
