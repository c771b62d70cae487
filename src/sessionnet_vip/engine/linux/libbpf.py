"""Load the data plane's BPF object (``sessionnet.bpf.o``) with libbpf through :mod:`ctypes`.

The programs are restricted C (``native/bpf/sessionnet.bpf.c``) compiled by clang
``-target bpf`` into an ELF object that ships in this package. libbpf (Debian ``libbpf1``,
``libbpf.so.1``) opens it, sizes the maps from the engine's configuration, relocates the
CO-RE field reads against the running kernel's BTF, loads the programs and attaches each to
a cgroup as a BPF link (so they detach when the engine exits). Only stable libbpf 1.x API
calls are used: ``bpf_object__open_file``, ``bpf_object__find_map_by_name``,
``bpf_map__set_max_entries``, ``bpf_map__initial_value``, ``bpf_object__load``,
``bpf_object__find_program_by_name``, ``bpf_program__attach_cgroup``,
``bpf_program__attach``, ``bpf_link__fd``,
``bpf_link__destroy``, ``bpf_map__fd``, ``bpf_object__close`` (libbpf API reference,
https://libbpf.readthedocs.io/en/latest/api.html).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from importlib import resources
from pathlib import Path
from typing import Final

from sessionnet_vip.errors import VipError

OBJECT_NAME: Final = "sessionnet.bpf.o"
LIBRARY_NAMES: Final = ("libbpf.so.1", "libbpf.so")


class LibbpfError(VipError):
    """libbpf or the kernel refused to open, load or attach the data plane's object."""

    def __init__(self, message: str, err: int = 0) -> None:
        super().__init__(message)
        self.errno = err


def object_path() -> Path:
    """The BPF object shipped in the package; refuse clearly when it was not built."""
    path = Path(str(resources.files("sessionnet_vip.engine.linux") / OBJECT_NAME))
    if not path.is_file():
        raise LibbpfError(
            f"the data plane's BPF object {path} is missing; build it with `make bpf` "
            "(needs Debian clang and libbpf-dev) or install a package built with it",
            errno.ENOENT,
        )
    return path


def _library() -> ctypes.CDLL:
    for name in LIBRARY_NAMES:
        try:
            lib = ctypes.CDLL(name, use_errno=True)
            break
        except OSError:
            continue
    else:
        found = ctypes.util.find_library("bpf")
        if found is None:
            raise LibbpfError(
                "libbpf is not installed (libbpf.so.1 not found); install Debian package libbpf1",
                errno.ENOENT,
            )
        lib = ctypes.CDLL(found, use_errno=True)
    vp, cp, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
    sigs: dict[str, tuple[object, list[object]]] = {
        "bpf_object__open_file": (vp, [cp, vp]),
        "bpf_object__find_map_by_name": (vp, [vp, cp]),
        "bpf_map__set_max_entries": (ctypes.c_int, [vp, ctypes.c_uint32]),
        "bpf_map__initial_value": (vp, [vp, ctypes.POINTER(sz)]),
        "bpf_map__fd": (ctypes.c_int, [vp]),
        "bpf_object__load": (ctypes.c_int, [vp]),
        "bpf_object__find_program_by_name": (vp, [vp, cp]),
        "bpf_program__attach_cgroup": (vp, [vp, ctypes.c_int]),
        "bpf_program__attach": (vp, [vp]),
        "bpf_link__fd": (ctypes.c_int, [vp]),
        "bpf_link__destroy": (ctypes.c_int, [vp]),
        "bpf_object__close": (None, [vp]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


def _fail(what: str, result: int | None = None) -> LibbpfError:
    err = -result if result is not None and result < 0 else ctypes.get_errno()
    return LibbpfError(f"{what}: {os.strerror(err) if err else 'failed'}", err)


class BpfObject:
    """One opened (then loaded) BPF object; :meth:`close` detaches and frees everything."""

    def __init__(self, path: Path | None = None) -> None:
        self._lib = _library()
        self.path = path or object_path()
        ctypes.set_errno(0)
        self._obj: int | None = self._lib.bpf_object__open_file(str(self.path).encode(), None)
        if not self._obj:
            raise _fail(f"libbpf cannot open {self.path}")
        self._links: list[int] = []
        self.loaded = False

    def _map(self, name: str) -> int:
        m: int | None = self._lib.bpf_object__find_map_by_name(self._obj, name.encode())
        if not m:
            raise LibbpfError(f"map {name!r} is not in {self.path}; rebuild it with `make bpf`", errno.ENOENT)
        return m

    def set_max_entries(self, map_name: str, entries: int) -> None:
        rc = self._lib.bpf_map__set_max_entries(self._map(map_name), entries)
        if rc:
            raise _fail(f"cannot size map {map_name} to {entries} entries", rc)

    def set_rodata_u32(self, value: int, offset: int = 0) -> None:
        """Set the ``const volatile __u32`` at ``offset`` of ``.rodata`` (before :meth:`load`)."""
        size = ctypes.c_size_t(0)
        data: int | None = self._lib.bpf_map__initial_value(self._map(".rodata"), ctypes.byref(size))
        if not data or size.value < offset + 4:
            raise LibbpfError(
                f"{self.path} has no .rodata word at offset {offset}; rebuild it with `make bpf`"
            )
        ctypes.c_uint32.from_address(data + offset).value = value

    def load(self) -> None:
        ctypes.set_errno(0)
        rc = self._lib.bpf_object__load(self._obj)
        if rc:
            raise _fail(
                f"the kernel refused the data plane's programs from {self.path} (libbpf's log above names "
                "the reason; needs Linux 5.19+ with BTF, CONFIG_CGROUP_BPF, run as root)",
                rc,
            )
        self.loaded = True

    def map_fd(self, name: str) -> int:
        fd = int(self._lib.bpf_map__fd(self._map(name)))
        if fd < 0:
            raise _fail(f"map {name} has no file descriptor (not loaded?)", fd)
        return fd

    def attach_cgroup(self, program: str, cgroup_fd: int) -> int:
        """Attach ``program`` to the cgroup open as ``cgroup_fd`` as a link; return the link's fd."""
        prog: int | None = self._lib.bpf_object__find_program_by_name(self._obj, program.encode())
        if not prog:
            raise LibbpfError(f"program {program!r} is not in {self.path}; rebuild it with `make bpf`")
        ctypes.set_errno(0)
        link: int | None = self._lib.bpf_program__attach_cgroup(prog, cgroup_fd)
        if not link:
            raise _fail(f"cannot attach {program} to the cgroup")
        self._links.append(link)
        return int(self._lib.bpf_link__fd(link))

    def attach(self, program: str) -> int:
        """Attach a tracing ``program`` where its section says (``tp_btf/...``); return the link's fd."""
        prog: int | None = self._lib.bpf_object__find_program_by_name(self._obj, program.encode())
        if not prog:
            raise LibbpfError(f"program {program!r} is not in {self.path}; rebuild it with `make bpf`")
        ctypes.set_errno(0)
        link: int | None = self._lib.bpf_program__attach(prog)
        if not link:
            raise _fail(f"cannot attach {program}")
        self._links.append(link)
        return int(self._lib.bpf_link__fd(link))

    def close(self) -> None:
        for link in self._links:
            self._lib.bpf_link__destroy(link)
        self._links.clear()
        if self._obj:
            self._lib.bpf_object__close(self._obj)
            self._obj = None
