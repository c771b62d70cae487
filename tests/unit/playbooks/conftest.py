"""Run real ``ansible-playbook`` against the collection in this checkout and simulated hosts."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
COLLECTIONS = ROOT / ".work" / "pytest-collections"


@dataclass
class PlaybookRun:
    rc: int
    output: dict[str, Any]
    stdout: str
    stderr: str

    def results(self, task_name: str) -> list[dict[str, Any]]:
        """Per-host results of the task called ``task_name`` (last play that has it)."""
        found: list[dict[str, Any]] = []
        for play in self.output.get("plays", []):
            for task in play.get("tasks", []):
                if task["task"]["name"] == task_name:
                    found = [dict(r, _host=h) for h, r in task["hosts"].items()]
        if not found:
            raise AssertionError(
                f"no task {task_name!r} in the run:\n{self.stdout[-3000:]}\n{self.stderr[-3000:]}"
            )
        return found

    def result(self, task_name: str, host: str | None = None) -> dict[str, Any]:
        rows = self.results(task_name)
        if host is not None:
            rows = [r for r in rows if r["_host"] == host]
        assert len(rows) == 1, rows
        return rows[0]


RunPlaybook = Callable[..., PlaybookRun]


@pytest.fixture
def run_playbook(tmp_path: pathlib.Path) -> RunPlaybook:
    def run(
        tasks: list[dict[str, Any]] | str,
        inventory: dict[str, Any],
        *,
        check: bool = False,
        diff: bool = True,
        hosts: str = "all",
        extra_vars: dict[str, Any] | None = None,
        gather_facts: bool = False,
        env: dict[str, str] | None = None,
    ) -> PlaybookRun:
        if isinstance(tasks, str):
            playbook_path = pathlib.Path(tasks)
        else:
            playbook_path = tmp_path / "playbook.yml"
            play = {"name": "test", "hosts": hosts, "gather_facts": gather_facts, "tasks": tasks}
            playbook_path.write_text(yaml.safe_dump([play], sort_keys=False))
        inv_path = tmp_path / "inventory.yml"
        inv_path.write_text(yaml.safe_dump(inventory, sort_keys=False))
        cmd = [
            os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
            "-i",
            str(inv_path),
            str(playbook_path),
        ]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        environ = dict(os.environ)
        environ.update(
            {
                "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
                "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_HOST_KEY_CHECKING": "0",
                "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
                "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
            }
        )
        environ.update(env or {})
        proc = subprocess.run(cmd, capture_output=True, text=True, env=environ, cwd=tmp_path, timeout=600)
        start = proc.stdout.find("{")
        try:
            output = json.loads(proc.stdout[start:]) if start >= 0 else {}
        except json.JSONDecodeError:
            output = {}
        return PlaybookRun(proc.returncode, output, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def sim_host() -> Callable[..., dict[str, Any]]:
    """``sim_host(state_path, profile, features, adapters)``: inventory vars of a simulated host."""
    return simulated_host


def simulated_host(
    state: pathlib.Path,
    profile: str = "server2022",
    features: list[str] | None = None,
    adapters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    host: dict[str, Any] = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "sessionnet_simulated_windows_state": str(state),
        "sessionnet_simulated_windows_profile": profile,
    }
    if features is not None:
        host["sessionnet_simulated_windows_features"] = features
    if adapters is not None:
        host["sessionnet_simulated_windows_adapters"] = adapters
    return host


@dataclass
class MoleculeRun:
    scenario: str
    rc: int
    output: str

    def assert_passed(self, *steps: str) -> None:
        """The run exited 0 and each of ``steps`` (e.g. ``idempotence``) reported "Executed: Successful".

        A step missing from the scenario's sequence, or skipped, fails here: a green exit code alone
        does not prove that idempotence was checked.
        """
        assert self.rc == 0, self.output[-6000:]
        for step in steps:
            # Molecule prints "[s > step] Executed: ...", "s > step: Executed: ..." or "s ➜ step: ...".
            pattern = rf"\b{re.escape(self.scenario)}\W+{re.escape(step)}\W+Executed: Successful"
            assert re.search(pattern, self.output), f"{step} did not run successfully:\n{self.output[-4000:]}"


RunMolecule = Callable[..., MoleculeRun]


def molecule_executable() -> pathlib.Path:
    exe = pathlib.Path(sys.executable).parent / "molecule"
    if exe.exists():
        return exe
    found = shutil.which("molecule")
    assert found, "molecule is a dev dependency (pyproject [dev]); install it"
    return pathlib.Path(found)


@pytest.fixture
def run_molecule(tmp_path: pathlib.Path) -> RunMolecule:
    """``run_molecule(scenario)``: ``molecule test -s scenario`` in extensions/, output without colour."""

    def run(
        scenario: str,
        *,
        extra_env: dict[str, str] | None = None,
        package_on_path: bool = True,
        timeout: int = 900,
    ) -> MoleculeRun:
        bindir = pathlib.Path(sys.executable).parent
        env = dict(os.environ)
        env.update(
            {
                "PATH": f"{bindir}{os.pathsep}{env.get('PATH', '')}",
                "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
                "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_FORCE_COLOR": "0",
                "NO_COLOR": "1",
                "PY_COLORS": "0",
            }
        )
        if package_on_path:
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)
        else:
            env.pop("PYTHONPATH", None)
        env.update(extra_env or {})
        proc = subprocess.run(
            [str(molecule_executable()), "test", "-s", scenario],
            cwd=ROOT / "extensions",
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        plain = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
        return MoleculeRun(scenario, proc.returncode, plain)

    return run
