"""Bad input, one test group per defect class, on every surface it can reach: the refusal names
the input and the fix, exits 2 (vipctl) / raises the package's error (library) / answers
``{"ok": false}`` (socket), shows no traceback, and changes nothing."""

from __future__ import annotations

import ipaddress
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from sessionnet_vip import cli, coerce, strictjson, yamlfile
from sessionnet_vip.addressing import parse_address, virtual_loopback_address
from sessionnet_vip.engine.config import ConfigError, load_config, parse_config
from sessionnet_vip.engine.protocol import MAX_DEPTH, decode_request
from sessionnet_vip.errors import VipError
from sessionnet_vip.planning import build_request

SRC = Path(__file__).resolve().parents[3] / "src"

#: Strings ``str.isdigit()`` (or ``int()``) accepts that are not integers a user typed.
NOT_INTEGERS = [
    "\u00b2",
    "\u0665",
    "\uff11\uff12",
    "+-5",
    "-+5",
    "1_000",
    "5 5",
    "",
    " ",
    "0x10",
    "1e3",
    "+",
    "-",
]

FARM: dict[str, Any] = {
    "subnets": [{"cidr": "10.0.0.0/24", "gateway": "10.0.0.1"}],
    "servers": [{"name": "s1", "subnet": "10.0.0.0/24", "max_sessions": 10}],
}


def vipctl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    return subprocess.run(
        [sys.executable, "-m", "sessionnet_vip", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def assert_clean_refusal(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr) < 2000, "an unbounded value was formatted into the message"
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def config_data(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "pool": ["198.51.100.10-198.51.100.20"],
        "state_dir": str(tmp_path / "state"),
        "control_socket": str(tmp_path / "ctl.sock"),
        **extra,
    }


# --- class 1: strings that pass str.isdigit() but are not integers ----------------------------
@pytest.mark.parametrize("text", NOT_INTEGERS)
def test_coerce_refuses_non_ascii_and_malformed_integers(text: str) -> None:
    assert coerce.int_from_text(text) is None
    with pytest.raises(VipError, match="not a whole number"):
        coerce.as_int(text, "count")


@given(st.integers(min_value=-(10**39), max_value=10**39))
def test_coerce_accepts_every_ascii_integer(value: int) -> None:
    assert coerce.int_from_text(str(value)) == value
    assert coerce.int_from_text(f"+{value}" if value >= 0 else str(value)) == value


@pytest.mark.parametrize("text", NOT_INTEGERS)
def test_loopback_rule_refuses_non_integers(text: str) -> None:
    with pytest.raises(VipError, match="is not an integer"):
        virtual_loopback_address(text)


@pytest.mark.parametrize("text", ["\u00b2", "\u0665", "+-5"])
def test_planner_refuses_non_integers(text: str) -> None:
    farm = json.loads(json.dumps(FARM))
    farm["servers"][0]["max_sessions"] = text
    with pytest.raises(VipError, match="max_sessions .* not a whole number"):
        build_request(farm)


@pytest.mark.parametrize("text", ["\u00b2", "\u0665", "+-5"])
def test_vipctl_loopback_refuses_non_integers(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["loopback", text]) == 2
    err = capsys.readouterr().err
    assert "is not an integer" in err and "1 to 16777213" in err


@pytest.mark.parametrize("text", ["\u0665", "\u00b2", "1_0", "+-5"])
def test_vipctl_integer_options_take_ascii_digits_only(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["allocate", "1", "--uid", text, "--config", "/nonexistent.yml"])
    assert stop.value.code == 2
    assert "not a whole number" in capsys.readouterr().err


# --- class 2: integers past Python's 4,300-digit conversion limit ------------------------------
def test_huge_integer_in_a_plan_file(tmp_path: Path) -> None:
    (tmp_path / "farm.yml").write_text(
        "subnets: [{cidr: 10.0.0.0/24, gateway: 10.0.0.1}]\n"
        f"servers: [{{name: s1, subnet: 10.0.0.0/24, max_sessions: {'9' * 5000}}}]\n"
    )
    assert_clean_refusal(vipctl("plan", str(tmp_path / "farm.yml")), "too long", "farm.yml")


def test_huge_integer_in_an_engine_config(tmp_path: Path) -> None:
    path = tmp_path / "engine.yml"
    path.write_text(yaml.safe_dump(config_data(tmp_path)) + f"metrics_port: {'9' * 5000}\n")
    with pytest.raises(ConfigError, match="too long"):
        load_config(path)
    assert not (tmp_path / "state").exists()


def test_huge_integer_on_the_socket() -> None:
    request, refusal = decode_request(b'{"op": "release", "session": ' + b"7" * 5000 + b"}\n")
    assert request is None and refusal is not None
    assert refusal["ok"] is False and "digits" in refusal["error"]


def test_huge_integer_as_a_python_value() -> None:
    with pytest.raises(VipError) as err:
        coerce.as_int(10**5000, "count", maximum=100)
    assert len(str(err.value)) < 200


# --- class 3: NaN and infinity where a number is expected --------------------------------------
@pytest.mark.parametrize("key", ["hold_seconds", "reconcile_seconds"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_engine_config_refuses_non_finite_seconds(tmp_path: Path, key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=f"'{key}' .*finite number"):
        parse_config(config_data(tmp_path, **{key: value}))


def test_engine_config_file_with_dot_nan(tmp_path: Path) -> None:
    path = tmp_path / "engine.yml"
    path.write_text(yaml.safe_dump(config_data(tmp_path)) + "hold_seconds: .nan\n")
    with pytest.raises(ConfigError, match="hold_seconds"):
        load_config(path)


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_data_plane_watch_seconds_not_finite(tmp_path: Path, value: str) -> None:
    data = config_data(tmp_path, data_plane={"watch_seconds": yaml.safe_load(value)})
    with pytest.raises(ConfigError, match="watch_seconds"):
        parse_config(data)


@pytest.mark.parametrize("value", [math.nan, math.inf, "nan", "inf", "1e999999999"])
def test_planner_headroom_not_finite(value: object) -> None:
    farm = json.loads(json.dumps(FARM))
    farm["servers"][0]["headroom"] = value
    with pytest.raises(VipError, match="headroom"):
        build_request(farm)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_socket_refuses_non_finite_numbers(literal: bytes) -> None:
    _request, refusal = decode_request(b'{"op": "leases", "all": ' + literal + b"}\n")
    assert refusal is not None and refusal["ok"] is False


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "\u0665"])
def test_supervise_timeout_must_be_finite(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["supervise", "--check", "--pidfile", "/nonexistent/pid", "--timeout", value])
    assert stop.value.code == 2
    assert "not a number of seconds" in capsys.readouterr().err


# --- class 4: files that are not UTF-8 ----------------------------------------------------------
def test_plan_file_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "farm.yml").write_bytes(b"subnets: []\nservers: [{name: caf\xe9}]\n")
    assert_clean_refusal(vipctl("plan", str(tmp_path / "farm.yml")), "not UTF-8", "offset")


def test_engine_config_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "engine.yml"
    path.write_bytes(b"pool: ['198.51.100.10-198.51.100.20']\nstate_dir: /tmp/\xff\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)
    proc = vipctl("status", "--config", str(path))
    assert_clean_refusal(proc, "not UTF-8")


# --- class 5: YAML alias bombs, recursion and deep nesting --------------------------------------
def billion_laughs(levels: int = 9) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_plan_file(tmp_path: Path) -> None:
    (tmp_path / "farm.yml").write_text(billion_laughs() + "subnets: *a9\n")
    assert_clean_refusal(vipctl("plan", str(tmp_path / "farm.yml")), "aliases")


def test_alias_bomb_engine_config(tmp_path: Path) -> None:
    path = tmp_path / "engine.yml"
    # the bomb sits in an unknown key: it must be refused before anything formats it
    path.write_text(billion_laughs() + yaml.safe_dump(config_data(tmp_path)))
    with pytest.raises(ConfigError, match="aliases") as err:
        load_config(path)
    assert len(str(err.value)) < 1000


def test_moderate_aliases_still_load() -> None:
    text = "base: &b {gateway: 10.0.0.1}\nsubnets: [*b, *b, *b]\n"
    assert yamlfile.loads(text, "t") == yaml.safe_load(text)


def test_recursive_alias_refused() -> None:
    with pytest.raises(VipError, match="refers to itself"):
        yamlfile.loads("a: &a [*a]\n", "t")


@pytest.mark.parametrize("depth", [MAX_DEPTH * 4, 60_000])
def test_deep_yaml_refused_without_crashing(tmp_path: Path, depth: int) -> None:
    # 60,000 levels crash libyaml's recursive composer (SIGSEGV) unless refused first
    (tmp_path / "farm.yml").write_text("subnets: " + "[" * depth + "]" * depth + "\n")
    assert_clean_refusal(vipctl("plan", str(tmp_path / "farm.yml")), "nested more than")


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
        max_leaves=20,
    )
)
def test_bounded_loader_agrees_with_safe_load(value: object) -> None:
    text = yaml.safe_dump(value)
    assert yamlfile.loads(text, "t") == yaml.safe_load(text)


def test_messages_never_format_a_huge_value() -> None:
    huge = ["x" * 1000] * 10_000
    assert len(coerce.brief(huge)) < 100
    assert len(coerce.brief("y" * 10**6)) < 200
    with pytest.raises(VipError) as err:
        build_request({**FARM, "allow_split": huge})
    assert len(str(err.value)) < 500


# --- class 6: deeply nested JSON ----------------------------------------------------------------
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 30_000])  # 30,000 levels: RecursionError in json
def test_deep_json_refused(depth: int) -> None:
    _request, refusal = decode_request(b'{"op": ' + b"[" * depth + b"]" * depth + b"}\n")
    assert refusal == {
        "ok": False,
        "error": f"request is nested deeper than {MAX_DEPTH} levels; nothing done",
    }


def test_deep_json_refused_beyond_the_line_limit_too() -> None:
    with pytest.raises(strictjson.StrictJSONError, match="nested deeper"):
        strictjson.loads(b"[" * 1_000_000 + b"]" * 1_000_000)


def test_brackets_inside_strings_do_not_count() -> None:
    line = json.dumps({"op": "allocate", "session": 1, "user": "[" * 5000}).encode()
    request, refusal = decode_request(line)
    assert refusal is None and request["user"] == "[" * 5000


def test_strict_json_agrees_with_json_on_ordinary_documents() -> None:
    doc = {"a": [1, 2.5, None, True, {"b": 'é["{'}], "c": -3}
    assert strictjson.loads(json.dumps(doc)) == doc


# --- class 8: paths of the wrong kind or length (validated before anything is created) ---------
def write_farm(tmp_path: Path) -> Path:
    path = tmp_path / "farm.yml"
    path.write_text(yaml.safe_dump(FARM))
    return path


def test_svg_dir_is_a_file(tmp_path: Path) -> None:
    farm = write_farm(tmp_path)
    target = tmp_path / "maps"
    target.write_text("not a directory")
    assert_clean_refusal(vipctl("plan", str(farm), "--svg", str(target)), "is not a directory", "--svg")
    assert target.read_text() == "not a directory"


def test_svg_dir_below_a_file(tmp_path: Path) -> None:
    farm = write_farm(tmp_path)
    (tmp_path / "file").write_text("x")
    proc = vipctl("plan", str(farm), "--svg", str(tmp_path / "file" / "maps"))
    assert_clean_refusal(proc, "is a file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["farm.yml", "file"]


def test_state_dir_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("x")
    with pytest.raises(ConfigError, match="'state_dir' .* is not a directory"):
        parse_config(config_data(tmp_path))


def serve_config(tmp_path: Path, **extra: Any) -> Path:
    path = tmp_path / "engine.yml"
    path.write_text(yaml.safe_dump(config_data(tmp_path, **extra)))
    return path


def test_control_socket_path_too_long_changes_nothing(tmp_path: Path) -> None:
    long_socket = tmp_path / ("d" * 60) / ("s" * 60 + ".sock")
    path = serve_config(tmp_path, control_socket=str(long_socket))
    proc = vipctl("serve", "--config", str(path))
    assert_clean_refusal(proc, "control_socket", "at most 107 bytes")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["engine.yml"]  # no state_dir, no socket dir


def test_control_socket_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "ctl.sock").mkdir()
    with pytest.raises(ConfigError, match="'control_socket' .* is a directory"):
        parse_config(config_data(tmp_path))


def test_control_socket_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "run").write_text("x")
    with pytest.raises(ConfigError, match="is not a directory"):
        parse_config(config_data(tmp_path, control_socket=str(tmp_path / "run" / "ctl.sock")))


def test_nul_in_a_config_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NUL"):
        parse_config(config_data(tmp_path, state_dir="/var/lib/a\x00b"))


# --- class 10: vipctl explain --config with an IPv6 --vip ----------------------------------------
@pytest.mark.parametrize(("option", "value"), [("--vip", "2001:db8::5"), ("--client-address", "::1")])
def test_explain_offline_refuses_ipv6(tmp_path: Path, option: str, value: str) -> None:
    path = serve_config(tmp_path)
    args = ["explain", "--config", str(path), "--session", "3", "--process", "/usr/bin/x"]
    proc = vipctl(*args, "--call", "bind", "--address", "0.0.0.0:80", option, value)
    assert_clean_refusal(proc, option, "IPv4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["engine.yml"]


# --- the fast address parser accepts exactly what ipaddress accepts ------------------------------
def _reference(text: str) -> int | None:
    try:
        return int(ipaddress.IPv4Address(text.strip()))
    except ValueError:
        return None


@given(
    st.one_of(
        st.text(alphabet="0123456789.x \t\u0665+-\x00", max_size=18),
        st.ip_addresses(v=4).map(str),
        st.lists(st.text("0123456789", min_size=1, max_size=4), min_size=3, max_size=5).map(".".join),
    )
)
def test_parse_address_agrees_with_ipaddress(text: str) -> None:
    try:
        got: int | None = parse_address(text, "address")
    except VipError:
        got = None
    assert got == _reference(text)


@pytest.mark.parametrize("text", ["0.0.0.0:\u0665", "0.0.0.0:\u00b2", "0.0.0.0:1_0", "[::1]:+-5"])
def test_translation_ports_are_ascii(text: str) -> None:
    from sessionnet_vip.engine.translation import Endpoint

    with pytest.raises(VipError, match="ADDRESS"):
        Endpoint.parse(text)


@pytest.mark.parametrize("port", ["\u0665", "9" * 5000, 2.5, "x"])
def test_audit_samples_refuse_non_integer_ports(port: object) -> None:
    from sessionnet_vip.apps.audit import AuditInputError, parse_samples

    sock = {
        "protocol": "tcp",
        "local_address": "10.0.0.5",
        "local_port": port,
        "state": "listen",
        "pid": 42,
    }
    with pytest.raises(AuditInputError, match="local_port") as err:
        parse_samples([{"sockets": [sock]}])
    assert len(str(err.value)) < 500
