"""The Windows-side contract: every ``plugins/modules/*.ps1`` against its docs and its simulator twin.

No PowerShell runs here, so these are static checks of what can be checked statically:

* the ``$spec.options`` of each ``.ps1`` equals the argument spec derived from the
  DOCUMENTATION of the same-named ``.py`` and, where the simulator has a twin, the simulator's
  ``SPECS`` entry (all three normalised by :func:`ps_spec.normalise_options`);
* each ``.ps1`` has its docs, an integration target for a real host, check-mode support, and
  module_utils references that ansible-core itself resolves;
* the result keys each ``.ps1`` writes are the ones its simulator twin returns.

Generic over all ``.ps1`` files: a new Windows-side module is checked by adding it.
"""

from __future__ import annotations

import importlib
import json
import pathlib
import re
import subprocess
import sys
from typing import Any

import ps_spec
import pytest
import yaml
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.docspec import argspec_from_docs

from sessionnet_vip.windows import simulator

ROOT = pathlib.Path(__file__).resolve().parents[3]
MODULES_DIR = ROOT / "plugins" / "modules"
UTILS_DIR = ROOT / "plugins" / "module_utils"
TARGETS_DIR = ROOT / "tests" / "integration" / "targets"
COLLECTION = "ansible_collections.sessionnet.virtual_ip"
PS_MODULES = sorted(path.stem for path in MODULES_DIR.glob("*.ps1"))
_REQUIRES = re.compile(r"(?im)^#AnsibleRequires\s+-(PowerShell|CSharpUtil)\s+(\S+)")


def _source(module: str) -> str:
    return (MODULES_DIR / f"{module}.ps1").read_text(encoding="utf-8")


def _documentation(module: str) -> str:
    docs = importlib.import_module(f"{COLLECTION}.plugins.modules.{module}")
    return str(docs.DOCUMENTATION)


def _ps_options(module: str) -> dict[str, Any]:
    return ps_spec.normalise_options(ps_spec.extract_spec(_source(module))["options"], f"{module}.ps1")


def _collection_utils(source: str) -> list[tuple[str, pathlib.Path]]:
    """(kind, file) of each collection module_util a PowerShell source requires."""
    found = []
    for kind, name in _REQUIRES.findall(source):
        if name.startswith("Ansible."):
            continue
        stem = name.rsplit(".", 1)[-1]
        found.append((kind, UTILS_DIR / (stem + (".psm1" if kind == "PowerShell" else ".cs"))))
    return found


def test_there_are_windows_modules() -> None:
    assert {"registry_state", "vip_info"} <= set(PS_MODULES)


@pytest.mark.parametrize("module", PS_MODULES)
def test_ps_spec_equals_documented_options(module: str) -> None:
    documented = ps_spec.normalise_options(argspec_from_docs(_documentation(module)), f"{module}.py")
    assert _ps_options(module) == documented


@pytest.mark.parametrize("module", sorted(set(PS_MODULES) & set(simulator.SPECS)))
def test_ps_spec_equals_simulator_spec(module: str) -> None:
    twin = ps_spec.normalise_options(simulator.SPECS[module], f"simulator.SPECS[{module!r}]")
    assert _ps_options(module) == twin


@pytest.mark.parametrize("module", PS_MODULES)
def test_module_has_docs_target_and_check_mode(module: str) -> None:
    source = _source(module)
    assert source.startswith("#!powershell\n")
    assert re.search(r"(?m)^#AnsibleRequires -CSharpUtil Ansible\.Basic$", source)
    assert ps_spec.extract_spec(source).get("supports_check_mode") is True, (
        f"{module}.ps1: supports_check_mode"
    )
    docs = yaml.safe_load(_documentation(module))
    assert docs["module"] == module
    assert docs["attributes"]["platform"]["platforms"] == "windows"
    target = TARGETS_DIR / module
    aliases = (target / "aliases").read_text(encoding="utf-8").split()
    assert "windows" in aliases and any(a.startswith("shippable/windows/") for a in aliases)
    tasks = yaml.safe_load((target / "tasks" / "main.yml").read_text(encoding="utf-8"))
    assert isinstance(tasks, list) and tasks, f"{target}/tasks/main.yml has no tasks"
    assert any(f"sessionnet.virtual_ip.{module}" in json.dumps(task) for task in tasks)


@pytest.mark.parametrize("module", PS_MODULES)
def test_module_utils_exist_and_are_shaped_as_ansible_loads_them(module: str) -> None:
    for kind, path in _collection_utils(_source(module)):
        assert path.is_file(), f"{module}.ps1 requires {path.name}, which does not exist"
        text = path.read_text(encoding="utf-8")
        if kind == "CSharpUtil":
            # ansible-core finds a collection C# util by this exact namespace
            assert f"namespace {COLLECTION}.plugins.module_utils.{path.stem}\n" in text
        else:
            assert re.search(r"(?m)^Export-ModuleMember -Function ", text)


@pytest.mark.parametrize("module", PS_MODULES)
def test_every_sessionnet_function_called_is_defined(module: str) -> None:
    """Catch typos in calls to the shared util: no PowerShell here would catch them."""
    source = _source(module)
    defined = set(re.findall(r"(?im)^Function\s+([\w-]+)", source))
    exported: set[str] = set()
    for kind, path in _collection_utils(source):
        if kind == "PowerShell":
            text = path.read_text(encoding="utf-8")
            defined |= set(re.findall(r"(?im)^Function\s+([\w-]+)", text))
            export = re.search(r"(?ms)^Export-ModuleMember -Function (.*?)(?:\n(?!\s)|\Z)", text)
            assert export, f"{path.name} exports nothing"
            exported |= {n.strip(" `\n") for n in export.group(1).split(",")}
    called = set(re.findall(r"\b([A-Z][a-z]+-Sn\w+)\b", source))
    local = set(re.findall(r"(?im)^Function\s+([\w-]+)", source))
    assert called <= exported | local, (
        f"{module}.ps1 calls undefined/unexported {sorted(called - exported - local)}"
    )
    assert exported <= defined


def test_ansible_core_resolves_the_module_utils() -> None:
    """ansible-core's own dependency scan (what it runs before sending a module) finds every util."""
    farm = ROOT / ".work" / "pytest-collections"
    script = f"""
import json, sys
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
_AnsibleCollectionFinder(paths=[{str(farm)!r}], scan_sys_paths=False)._install()
from ansible.executor.powershell.module_manifest import PSModuleDepFinder
out = {{}}
for name in {PS_MODULES!r}:
    data = open({str(MODULES_DIR)!r} + '/' + name + '.ps1', 'rb').read()
    deps = PSModuleDepFinder().scan_module(data, fqn={COLLECTION!r} + '.plugins.modules.' + name)
    out[name] = sorted(deps)
print(json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    deps = json.loads(done.stdout)
    for module in PS_MODULES:
        wanted = {"Ansible.Basic.cs"} | {
            f"{COLLECTION}.plugins.module_utils.{path.name}" for _, path in _collection_utils(_source(module))
        }
        assert wanted <= set(deps[module]), (module, deps[module])


# --- result shape: what the .ps1 writes vs what its simulator twin returns ---------------------


def _twin_result(module: str, tmp_path: pathlib.Path) -> dict[str, Any]:
    sockets = [
        {
            "exe": r"C:\Program Files\CTI\agent.exe",
            "pid": 4100,
            "session": 2,
            "local_address": "0.0.0.0",
            "local_port": 9000,
        }
    ]
    seed = simulator.HostSeed(features=["rds", "dhcp_server"], sockets=sockets)
    sim = simulator.Simulator(str(tmp_path / "host.json"), seed)
    args: dict[str, Any] = {
        "registry_state": {
            "values": [
                {"path": r"HKLM:\SOFTWARE\T", "name": "v", "type": "dword", "data": "1", "state": "present"}
            ],
            "keys_absent": [{"path": r"HKLM:\SOFTWARE\T\Sub", "view": "64"}],
        },
        "vip_info": {"registry_keys": [{"path": simulator.LSP_CATALOG_KEY, "view": "64"}]},
    }.get(module, {})
    result = sim.call(module, args)
    result.pop("simulated")
    return result


_HASHTABLE_KEY = re.compile(r"(?:@\{[ \t]*|;[ \t]*|^[ \t]*)(\w+)[ \t]*=(?!=)", re.MULTILINE)


def _nested_keys(value: Any) -> set[str]:
    keys: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            keys.add(key)
            keys |= _nested_keys(item)
    elif isinstance(value, list):
        for item in value:
            keys |= _nested_keys(item)
    return keys


@pytest.mark.parametrize(
    "module", sorted({"registry_state", "vip_info", "vip_socket_info"} & set(PS_MODULES))
)
def test_ps_result_keys_are_the_simulator_twins(module: str, tmp_path: pathlib.Path) -> None:
    source = _source(module)
    twin = _twin_result(module, tmp_path)
    top = set(re.findall(r"\$module\.Result\['(\w+)'\]\s*=", source))
    assert top == set(twin), f"{module}.ps1 result keys differ from the simulator twin"
    # every nested key the twin returns is written as a hashtable key by the .ps1 or its utils
    texts = [source] + [path.read_text(encoding="utf-8") for _, path in _collection_utils(source)]
    written = {key for text in texts for key in _HASHTABLE_KEY.findall(text)}
    missing = _nested_keys(list(twin.values())) - written
    assert not missing, f"{module}.ps1 never writes keys the twin returns: {sorted(missing)}"


# Calls that change the host. Each must sit inside a block opened by a check-mode guard
# (``if (-not $module.CheckMode)`` / ``if ($changed -and -not $checkMode)`` ...).
_WRITES = re.compile(
    r"\b(New-Item|Set-ItemProperty|Remove-Item|New-NetIPAddress|Set-NetIPAddress|Remove-NetIPAddress"
    r"|Add-DhcpServerv4\w+|Remove-DhcpServerv4\w+|Set-DhcpServerv4\w+|Invoke-DhcpServerv4\w+|Invoke-CimMethod)\b"
    r"|\.(SetValue|DeleteValue|DeleteSubKeyTree|DeleteSubKey|CreateSubKey|Save)\("
)
_GUARD = re.compile(r"(?i)-not\s+\$(module\.CheckMode|checkMode)\b")


def _enclosing_openers(lines: list[str], index: int) -> list[str]:
    """The lines that open the blocks enclosing ``lines[index]`` (by indentation, innermost first)."""
    depth = len(lines[index]) - len(lines[index].lstrip())
    found = []
    for line in reversed(lines[:index]):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if stripped and not stripped.startswith("#") and indent < depth:
            found.append(stripped)
            depth = indent
    return found


def unguarded_writes(source: str) -> list[str]:
    # block comments (<# ... #>) are not code; keep their line count so numbers stay right
    source = re.sub(r"(?s)<#.*?#>", lambda m: "\n" * m.group(0).count("\n"), source)
    lines = source.splitlines()
    return [
        f"line {i + 1}: {line.strip()}"
        for i, line in enumerate(lines)
        if _WRITES.search(line) and not line.lstrip().startswith("#")
        if not any(_GUARD.search(opener) for opener in _enclosing_openers(lines, i))
    ]


def test_write_guard_check_sees_a_guard_and_its_absence() -> None:
    guarded = "if (-not $module.CheckMode) {\n    try {\n        $k.SetValue('a', 1)\n    }\n}\n"
    assert unguarded_writes(guarded) == []
    bare = "if ($changed) {\n    $k.SetValue('a', 1)\n}\n"
    assert unguarded_writes(bare) == ["line 2: $k.SetValue('a', 1)"]


@pytest.mark.parametrize("module", PS_MODULES)
def test_every_write_is_guarded_by_check_mode(module: str) -> None:
    source = _source(module)
    assert unguarded_writes(source) == [], f"{module}.ps1 writes outside a check-mode guard"


# --- vip_address_state.ps1: an adapter without IPv4 addresses, and the final read ---------------


def test_address_read_treats_object_not_found_as_none_and_final_read_is_handled() -> None:
    """Get-NetIPAddress on an adapter without IPv4 addresses reports "No matching MSFT_NetIPAddress
    objects" (category ObjectNotFound): the read must treat it as an empty list, and the read-back
    after changes must sit inside the try/catch that reports partial progress."""
    source = _source("vip_address_state")
    helper = re.search(r"(?ms)^function Get-SnAddressList \{.*?^\}", source)
    assert helper, "vip_address_state.ps1 has no Get-SnAddressList"
    assert "-ErrorAction Stop" not in helper.group(0)
    assert "ObjectNotFound" in helper.group(0) and "throw" in helper.group(0)
    lines = source.splitlines()
    reads = [
        i for i, line in enumerate(lines) if re.search(r"Result\.after = (Get-SnAddressList|Wait-Sn)", line)
    ]
    assert reads, "the read-back of the addresses is missing"
    for i in reads:
        assert any(opener.startswith("try") for opener in _enclosing_openers(lines, i)), lines[i]


# --- citrix_policy_state.ps1: provider paths, the 7.16+ filter form, nothing leaks into the JSON --


_PROVIDER_CMDLETS = re.compile(r"\b(Get-Item|Get-ChildItem|Set-ItemProperty|Remove-Item|Test-Path)\b(.*)")


def test_citrix_provider_paths_are_literal() -> None:
    """[ and ] are wildcards for -Path; names come from input (policy names, Delivery Groups)."""
    source = _source("citrix_policy_state")
    calls = [
        m
        for line in source.splitlines()
        if not line.lstrip().startswith("#")
        for m in [_PROVIDER_CMDLETS.search(line)]
        if m
    ]
    assert calls, "no provider calls found"
    for match in calls:
        assert "-LiteralPath" in match.group(2), match.group(0).strip()


def test_citrix_filters_use_the_716_form_addressed_by_value() -> None:
    """XenDesktop 7.16+: New-Item -Path <policy>\\Filters -Name <value> -ItemType <type> for
    every filter type except ClientIP/AccessControl/BranchRepeater (Citrix's own
    Citrix.GroupPolicy.Commands.psm1 edited for 7.16)."""
    source = _source("citrix_policy_state")
    helper = re.search(r"(?ms)^function New-SnFilter \{.*?^\}", source)
    assert helper, "citrix_policy_state.ps1 has no New-SnFilter"
    assert re.search(
        r'New-Item -Path "\$PolicyPath\\Filters" -Name \$Value -ItemType \$Type', helper.group(0)
    )
    assert "'ClientIP'" in helper.group(0)
    assert "New-SnFilter" in source.split(helper.group(0), 1)[1], "New-SnFilter is never called"


_OUTPUT_CALLS = re.compile(
    r"(\.(Save|Refresh)\(\)|\bNew-Item\b|\bNew-PSDrive\b|\bInvoke-CimMethod\b"
    r"|\bInvoke-DhcpServerv4FailoverReplication\b|\bNew-NetIPAddress\b)"
)


@pytest.mark.parametrize("module", PS_MODULES)
def test_provider_output_never_leaks_into_the_module_json(module: str) -> None:
    """Calls that write objects to the pipeline are assigned ($null = ..., $x = ...): any stray
    output would be sent before the module's JSON."""
    code = re.sub(r"(?s)<#.*?#>", lambda m: "\n" * m.group(0).count("\n"), _source(module))
    for number, line in enumerate(code.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("#") or not _OUTPUT_CALLS.search(stripped):
            continue
        assert re.match(r"^\$[\w.:\[\]']+\s*=", stripped), f"{module}.ps1 line {number}: {stripped}"
