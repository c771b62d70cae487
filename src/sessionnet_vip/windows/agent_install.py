"""What the ``vip_agent`` role installs on a Windows host, decided on the controller.

* :func:`build_wheelhouse`: the package wheel of the collection's exact version, built from the
  source bundled in the collection, plus the Windows wheels it needs
  (``pip download --platform win_amd64 --only-binary=:all:``), with a ``manifest.json`` of
  names and SHA-256 sums. Run on the controller (``python -m
  sessionnet_vip.windows.agent_install wheelhouse ...``); a wheelhouse already complete for
  that version and Python is left alone (``changed: false``).
* :func:`engine_config`: the Windows engine configuration, validated with the engine's own
  parser before any file is written.
* :func:`install_commands`: the command lines the role runs on the host (pip from the copied
  wheels only, the service, the health check).

Only the controller side runs here; the host-side steps run on a real Windows host.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import ntpath
import re
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml

from sessionnet_vip.engine.windows.pipename import DEFAULT_PIPE, check_pipe_name
from sessionnet_vip.errors import VipError

#: Windows wheels of the ``windows`` extra, named again because ``pip download --platform``
#: evaluates ``sys_platform`` markers for the controller, not the target (a test checks this
#: list against pyproject.toml's extra).
WINDOWS_EXTRA: Final = ("pywin32>=306",)
DISTRIBUTION: Final = "sessionnet-vip"
MANIFEST: Final = "manifest.json"
PYTHON_VERSION: Final = re.compile(r"^3\.(1[1-9]|[2-9][0-9])$")


class InstallError(VipError):
    """The Windows installation cannot be prepared."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_version(source: Path) -> str:
    """The package version in ``source/pyproject.toml`` (the collection bundles its source)."""
    text = (source / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise InstallError(f"{source / 'pyproject.toml'} has no version; is {source} the collection's root?")
    return match.group(1)


def collection_version(source: Path) -> str | None:
    """The collection's version: ``MANIFEST.json`` of an installed collection, else galaxy.yml."""
    manifest = source / "MANIFEST.json"
    if manifest.is_file():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        return str(data.get("collection_info", {}).get("version"))
    galaxy = source / "galaxy.yml"
    if galaxy.is_file():
        data = yaml.safe_load(galaxy.read_text(encoding="utf-8"))
        return None if not isinstance(data, dict) else str(data.get("version"))
    return None


def requirements(version: str) -> list[str]:
    """What ``pip download`` fetches: the package (from the built wheel) and the Windows extra."""
    return [f"{DISTRIBUTION}=={version}", *WINDOWS_EXTRA]


def download_command(
    python: str, wheel_dir: Path, dest: Path, version: str, python_version: str
) -> list[str]:
    return [
        python, "-m", "pip", "download", "--disable-pip-version-check", "--quiet",
        "--platform", "win_amd64", "--python-version", python_version, "--implementation", "cp",
        "--only-binary=:all:", "--find-links", str(wheel_dir), "--dest", str(dest),
        *requirements(version),
    ]  # fmt: skip


def _dist_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name)


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel_metadata(project: Mapping[str, Any]) -> str:
    """``METADATA`` (core metadata 2.1) of the pyproject ``[project]`` table."""
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project.get('description', '')}",
    ]
    if project.get("requires-python"):
        lines.append(f"Requires-Python: {project['requires-python']}")
    lines += [f"Requires-Dist: {dep}" for dep in project.get("dependencies", [])]
    for extra, deps in sorted(project.get("optional-dependencies", {}).items()):
        lines.append(f"Provides-Extra: {extra}")
        for dep in deps:
            req, _semicolon, marker = str(dep).partition(";")
            cond = f'({marker.strip()}) and extra == "{extra}"' if marker.strip() else f'extra == "{extra}"'
            lines.append(f"Requires-Dist: {req.strip()}; {cond}")
    return "\n".join(lines) + "\n"


def build_wheel(source: Path, dest: Path) -> Path:
    """A ``py3-none-any`` wheel of the package in ``source`` (pyproject.toml + src/), written
    without a build backend (none may be installed on the controller, and it may be offline).
    Reproducible: fixed timestamps and file order, so the same source gives the same bytes."""
    pyproject = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    name, version = _dist_name(project["name"]), project["version"]
    package_root = source / "src"
    files = sorted(
        p
        for p in (package_root / "sessionnet_vip").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    if not files:
        raise InstallError(
            f"{package_root / 'sessionnet_vip'} holds no package files; is {source} the collection's root?"
        )
    dist_info = f"{name}-{version}.dist-info"
    meta = {
        f"{dist_info}/METADATA": wheel_metadata(project).encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: sessionnet_vip.windows.agent_install\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/entry_points.txt": (
            "[console_scripts]\n"
            + "".join(f"{k} = {v}\n" for k, v in sorted(project.get("scripts", {}).items()))
        ).encode(),
    }
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / f"{name}-{version}-py3-none-any.whl"
    record: list[str] = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as whl:

        def add(arcname: str, data: bytes) -> None:
            info = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            whl.writestr(info, data)
            record.append(f"{arcname},{_record_hash(data)},{len(data)}")

        for path in files:
            add(path.relative_to(package_root).as_posix(), path.read_bytes())
        for arcname, data in meta.items():
            add(arcname, data)
        record.append(f"{dist_info}/RECORD,,")
        add_record = "\n".join(record) + "\n"
        info = zipfile.ZipInfo(f"{dist_info}/RECORD", date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        whl.writestr(info, add_record)
    return target


def manifest_ok(dest: Path, version: str, python_version: str) -> bool:
    """The wheelhouse holds every file its manifest names, with the same sums, for this version."""
    path = dest / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if data.get("version") != version or data.get("python_version") != python_version:
        return False
    files = data.get("files")
    if not isinstance(files, dict) or not files:
        return False
    return all((dest / name).is_file() and sha256(dest / name) == digest for name, digest in files.items())


def build_wheelhouse(
    source: Path, dest: Path, python_version: str, *, python: str = sys.executable
) -> dict[str, Any]:
    """Build and download into ``dest``; returns ``{changed, version, files}``."""
    if not PYTHON_VERSION.match(python_version):
        raise InstallError(
            f"vip_agent_windows_python_version {python_version!r}: give 3.11, 3.12, ... (major.minor)"
        )
    version = source_version(source)
    collection = collection_version(source)
    if collection is not None and collection != version:
        raise InstallError(
            f"the collection is version {collection} but its bundled package is {version}; rebuild the collection"
        )
    if manifest_ok(dest, version, python_version):
        data: dict[str, Any] = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))
        return {"changed": False, "version": version, "files": data["files"]}
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.whl"):
        old.unlink()
    build_dir = dest / "build"
    built = build_wheel(source, build_dir)
    argv = download_command(python, build_dir, dest, version, python_version)
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [
            line
            for line in (result.stderr or result.stdout).splitlines()
            if not line.startswith("WARNING: Location")
        ]
        raise InstallError(
            f"cannot download the Windows wheels ({' '.join(argv)}): {' '.join(lines[-5:]) or result.returncode}; "
            "the controller needs the package index, or put the wheels in the wheelhouse yourself"
        )
    built.unlink()
    build_dir.rmdir()
    files = {p.name: sha256(p) for p in sorted(dest.glob("*.whl"))}
    if not any(name.startswith("sessionnet_vip-") for name in files):
        raise InstallError(f"no sessionnet_vip wheel in {dest} after the build")
    (dest / MANIFEST).write_text(
        json.dumps(
            {"version": version, "python_version": python_version, "files": files}, indent=1, sort_keys=True
        ),
        encoding="utf-8",
    )
    return {"changed": True, "version": version, "files": files}


# --- the engine configuration ------------------------------------------------------------------
def engine_config(settings: Mapping[str, Any], windows_dir: str) -> dict[str, Any]:
    """The Windows engine configuration from the role's settings, validated by the engine's parser
    (a :class:`VipError` naming the key otherwise)."""
    from sessionnet_vip.engine.config import parse_config

    if not ntpath.isabs(windows_dir) or not ntpath.splitdrive(windows_dir)[0]:
        raise InstallError(
            f"vip_agent_windows_dir {windows_dir!r}: give a full path such as C:\\ProgramData\\sessionnet-vip"
        )
    config: dict[str, Any] = {
        "pool": list(settings.get("pool") or []),
        "state_dir": ntpath.join(windows_dir, "state"),
        "control_pipe": settings.get("control_pipe") or DEFAULT_PIPE,
        "processes": list(settings.get("processes") or []),
        "prefer_loopback_processes": list(settings.get("prefer_loopback_processes") or []),
        "inherit_children": bool(settings.get("inherit_children", False)),
        "isolate_loopback": bool(settings.get("isolate_loopback", False)),
        "report_original": bool(settings.get("report_original", False)),
        "hold_seconds": settings.get("hold_seconds", 300),
        "session_provider": settings.get("session_provider", "auto"),
        "reconcile_seconds": settings.get("reconcile_seconds", 60),
        "data_plane": {
            "enabled": settings.get("data_plane_enabled", "auto"),
            "assign_addresses": bool(settings.get("assign_addresses", True)),
        },
    }
    if settings.get("subnet"):
        config["subnet"] = settings["subnet"]
    if settings.get("metrics_port"):
        config["metrics_port"] = int(settings["metrics_port"])
    if not config["pool"]:
        raise InstallError("vip_agent_pool is empty; give the address ranges of session virtual IPs")
    # state_dir is a Windows path: validate everything else with the Windows rules
    check = dict(config, state_dir="/validated-on-the-host")
    parse_config(check, source="vip_agent (Windows engine.yml)", platform="windows")
    return config


def install_commands(
    python: str, windows_dir: str, version: str, service_name: str, control_pipe: str = DEFAULT_PIPE
) -> dict[str, list[str]]:
    """The host-side command lines (argv lists for ansible.windows.win_command)."""
    wheels = ntpath.join(windows_dir, "wheels")
    config = ntpath.join(windows_dir, "engine.yml")
    vipctl = [python, "-m", "sessionnet_vip"]
    return {
        "version": [python, "-c", "import importlib.metadata as m; print(m.version('sessionnet-vip'))"],
        "python_version": [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        "pip_install": [
            python,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-index",
            "--find-links",
            wheels,
            "--upgrade",
            f"{DISTRIBUTION}[windows]=={version}",
        ],
        "service_install": [
            *vipctl,
            "service",
            "install",
            "--config",
            config,
            "--name",
            service_name,
            "--python",
            python,
            "--json",
        ],
        "service_status": [*vipctl, "service", "status", "--name", service_name, "--json"],
        "service_remove": [*vipctl, "service", "remove", "--name", service_name, "--json"],
        "health": [*vipctl, "--socket", control_pipe, "status", "--json"],
        "pip_uninstall": [
            python,
            "-m",
            "pip",
            "uninstall",
            "--yes",
            "--disable-pip-version-check",
            DISTRIBUTION,
        ],
    }


def route_programs(processes: Sequence[object], prefer_loopback: Sequence[object]) -> list[str]:
    """The program paths (or names) of the engine's lists, each once, in order."""
    out: list[str] = []
    for entry in [*processes, *prefer_loopback]:
        path = entry.get("path") if isinstance(entry, Mapping) else entry
        if isinstance(path, str) and path not in out:
            out.append(path)
    return out


def launcher_route(
    programs: Sequence[str], windows_dir: str, arch: str, pipe: str, state: str
) -> list[dict[str, Any]]:
    """The ``registry_state`` values of the IFEO route of ``programs`` to the installed
    ``viprun.exe`` (:mod:`sessionnet_vip.windows.launcher_route`); none for an empty list."""
    from sessionnet_vip.windows.launcher_route import build_launcher_route

    if not programs:
        return []
    viprun = ntpath.join(windows_dir, "bin", arch, "viprun.exe")
    return build_launcher_route(programs, viprun, state=state, pipe=pipe).values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sessionnet_vip.windows.agent_install")
    sub = parser.add_subparsers(dest="command", required=True)
    wh = sub.add_parser("wheelhouse", help="build the package wheel and download the Windows wheels")
    wh.add_argument("--source", type=Path, required=True, help="the collection root (pyproject.toml, src/)")
    wh.add_argument("--dest", type=Path, required=True, help="wheelhouse directory on the controller")
    wh.add_argument("--python-version", required=True, help="the Windows host's Python (major.minor)")
    cfg = sub.add_parser("config", help="render and validate the Windows engine.yml from JSON settings")
    cfg.add_argument("--settings", required=True, help="JSON mapping of the role's engine settings")
    cfg.add_argument("--windows-dir", required=True, help="vip_agent_windows_dir")
    cfg.add_argument("--out", type=Path, required=True, help="where to write engine.yml on the controller")
    cmds = sub.add_parser("commands", help="the host-side command lines, as JSON argv lists")
    cmds.add_argument("--python", required=True, help="vip_agent_windows_python")
    cmds.add_argument("--windows-dir", required=True, help="vip_agent_windows_dir")
    cmds.add_argument("--source", type=Path, required=True, help="the collection root (for the version)")
    cmds.add_argument("--service-name", required=True, help="vip_agent_service_name")
    cmds.add_argument("--control-pipe", default=DEFAULT_PIPE, help="vip_agent_windows_control_pipe")
    cmds.add_argument("--arch", default="x64", choices=["x64", "x86"], help="vip_agent_windows_arch")
    cmds.add_argument("--programs", default="[]", help="JSON list: vip_agent_processes")
    cmds.add_argument(
        "--prefer-loopback", default="[]", help="JSON list: vip_agent_prefer_loopback_processes"
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "wheelhouse":
            print(json.dumps(build_wheelhouse(args.source, args.dest, args.python_version)))
        elif args.command == "commands":
            if not ntpath.isabs(args.python) or not ntpath.splitdrive(args.python)[0]:
                raise InstallError(
                    f"vip_agent_windows_python {args.python!r}: give the full path of python.exe on the host"
                )
            version = source_version(args.source)
            check_pipe_name(args.control_pipe)
            out = install_commands(
                args.python, args.windows_dir, version, args.service_name, args.control_pipe
            )
            programs = route_programs(json.loads(args.programs), json.loads(args.prefer_loopback))
            route = {
                state: launcher_route(programs, args.windows_dir, args.arch, args.control_pipe, state)
                for state in ("present", "absent")
            }
            print(json.dumps({"version": version, "commands": out, "route": route}))
        else:
            config = engine_config(json.loads(args.settings), args.windows_dir)
            text = "# sessionnet-vip engine configuration (written by sessionnet.virtual_ip.vip_agent)\n"
            text += yaml.safe_dump(config, sort_keys=True, default_flow_style=False)
            old = args.out.read_text(encoding="utf-8") if args.out.is_file() else None
            if old != text:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(text, encoding="utf-8")
            print(json.dumps({"changed": old != text, "path": str(args.out)}))
    except VipError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
