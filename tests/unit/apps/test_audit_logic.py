"""vip_app_audit's decisions (sessionnet_vip.apps.audit) on samples shaped like the hands' answers."""

from __future__ import annotations

from typing import Any

import pytest

from sessionnet_vip.apps import audit

AGENT = r"C:\Program Files\CTI\agent.exe"
CRM = r"C:\Program Files\CRM\crm.exe"
BROWSER = r"C:\Program Files\Browser\browser.exe"
SVC = r"C:\Windows\System32\svchost.exe"


def sock(
    exe: str,
    pid: int,
    session: int | None,
    local: str,
    lport: int,
    remote: str | None = None,
    rport: int | None = None,
    state: str | None = None,
    protocol: str = "tcp",
) -> dict[str, Any]:
    return {
        "protocol": protocol,
        "local_address": local,
        "local_port": lport,
        "remote_address": remote,
        "remote_port": rport,
        "state": state or ("established" if remote else ("listen" if protocol == "tcp" else "bound")),
        "pid": pid,
        "exe": exe,
        "session": session,
        "user": f"SIM\\u{session}",
    }


def windows(samples: int = 2, **kw: Any) -> audit.AuditOptions:
    return audit.AuditOptions(platform="windows", samples=samples, **kw)


def by_exe(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["exe"]: p for p in result["programs"]}


def test_wildcard_listener_in_two_sessions_needs_a_virtual_ip() -> None:
    samples = [{"sockets": [sock(AGENT, 100, 2, "0.0.0.0", 9000), sock(AGENT, 200, 3, "0.0.0.0", 9000)]}]
    result = audit.recommend(samples, windows(samples=1))
    prog = by_exe(result)[AGENT]
    assert prog["recommendation"] == "virtual_ip"
    assert prog["evidence"]["listeners"][0]["fixed"] is True
    assert prog["evidence"]["sessions"] == [2, 3]
    assert result["module_options"]["sessionnet.virtual_ip.rds_ip_virtualization"] == {
        "state": "enabled",
        "mode": "per_program",
        "programs": [AGENT],
    }


def test_fixed_means_same_port_in_both_samples_outside_the_ephemeral_range() -> None:
    fixed = [{"sockets": [sock(AGENT, 100, 2, "10.20.0.10", 9000)]}] * 2
    assert by_exe(audit.recommend(fixed, windows()))[AGENT]["recommendation"] == "virtual_ip"
    # the same listener, but on a port in Windows' dynamic range: one instance proves nothing
    ephemeral = [{"sockets": [sock(AGENT, 100, 2, "0.0.0.0", 50001)]}] * 2
    prog = by_exe(audit.recommend(ephemeral, windows()))[AGENT]
    assert prog["recommendation"] == "none"
    assert prog["evidence"]["listeners"][0]["fixed"] is False
    # a port that changes between restarts is not fixed even outside the range
    moving = [
        {"sockets": [sock(AGENT, 100, 2, "0.0.0.0", 9001)]},
        {"sockets": [sock(AGENT, 101, 2, "0.0.0.0", 9002)]},
    ]
    assert by_exe(audit.recommend(moving, windows()))[AGENT]["recommendation"] == "none"


def test_one_sample_of_one_instance_is_undecided_and_says_so() -> None:
    prog = by_exe(audit.recommend([{"sockets": [sock(AGENT, 100, 2, "0.0.0.0", 9000)]}], windows(samples=1)))[
        AGENT
    ]
    assert prog["recommendation"] == "none"
    assert prog["evidence"]["listeners"][0]["fixed"] is None
    assert "two samples" in prog["reasons"][0]


def test_loopback_listener_and_loopback_client_need_a_virtual_loopback() -> None:
    samples = [
        {
            "sockets": [
                sock(CRM, 300, 2, "127.0.0.1", 7000),
                sock(AGENT, 100, 2, "127.0.0.1", 50100, "127.0.0.1", 7000),
            ]
        }
    ] * 2
    result = audit.recommend(samples, windows())
    assert by_exe(result)[CRM]["recommendation"] == "virtual_loopback"
    assert by_exe(result)[AGENT]["recommendation"] == "virtual_loopback"
    assert result["module_options"]["sessionnet.virtual_ip.citrix_loopback_policy"]["programs"] == [
        CRM,
        AGENT,
    ]
    assert "sessionnet.virtual_ip.citrix_prefer_loopback" not in result["module_options"]


def test_program_needing_both_is_listed_for_both_and_loopback_only_ones_prefer_loopback() -> None:
    samples = [
        {
            "sockets": [
                sock(AGENT, 100, 2, "0.0.0.0", 9000),
                sock(AGENT, 100, 2, "::1", 9100),
                sock(CRM, 300, 2, "127.0.0.1", 7000),
            ]
        }
    ] * 2
    result = audit.recommend(samples, windows())
    agent = by_exe(result)[AGENT]
    assert agent["recommendation"] == "virtual_ip" and agent["needs"] == ["virtual_ip", "virtual_loopback"]
    opts = result["module_options"]
    assert opts["sessionnet.virtual_ip.rds_ip_virtualization"]["programs"] == [AGENT]
    assert opts["sessionnet.virtual_ip.citrix_loopback_policy"]["programs"] == [AGENT, CRM]
    assert opts["sessionnet.virtual_ip.citrix_prefer_loopback"]["processes"] == [CRM]
    assert [p["exe"] for p in result["programs"]] == [AGENT, CRM]  # virtual_ip first


def test_outbound_only_is_a_client_address_candidate_and_inbound_is_not_outbound() -> None:
    samples = [
        {
            "sockets": [
                sock(BROWSER, 400, 2, "10.20.0.10", 50200, "203.0.113.5", 443),
                # the agent's accepted connection on its own listener is inbound, not "connects out"
                sock(AGENT, 100, 2, "0.0.0.0", 9000),
                sock(AGENT, 100, 2, "10.20.0.10", 9000, "192.0.2.21", 51000),
            ]
        }
    ] * 2
    result = audit.recommend(samples, windows())
    browser = by_exe(result)[BROWSER]
    assert browser["recommendation"] == "client_address" and browser["candidate"] is True
    assert "confirm with the application's vendor" in browser["reasons"][0]
    assert by_exe(result)[AGENT]["evidence"]["connections"] == []


def test_services_are_left_out_unless_asked_and_program_filter_matches_names() -> None:
    samples = [{"sockets": [sock(SVC, 4, 0, "0.0.0.0", 135), sock(AGENT, 100, 2, "0.0.0.0", 9000)]}] * 2
    assert set(by_exe(audit.recommend(samples, windows()))) == {AGENT}
    assert set(by_exe(audit.recommend(samples, windows(sessions="all")))) == {AGENT, SVC}
    only = audit.recommend(samples, windows(sessions="all", programs=("AGENT.EXE",)))
    assert set(by_exe(only)) == {AGENT}


def test_windows_paths_group_case_insensitively_linux_paths_do_not() -> None:
    samples = [
        {"sockets": [sock(AGENT, 100, 2, "0.0.0.0", 9000), sock(AGENT.upper(), 200, 3, "0.0.0.0", 9000)]}
    ]
    assert len(audit.recommend(samples, windows(samples=1))["programs"]) == 1
    lin = [
        {"sockets": [sock("/opt/a/srv", 1, 5, "0.0.0.0", 9000), sock("/opt/A/srv", 2, 6, "0.0.0.0", 9000)]}
    ]
    result = audit.recommend(lin, audit.AuditOptions(platform="linux", samples=1))
    assert len(result["programs"]) == 2
    assert set(result["module_options"]) == set()  # neither is fixed: each seen once


def test_linux_module_options_are_vip_agent_process_entries() -> None:
    samples = [
        {
            "sockets": [
                sock("/opt/cti/agent", 10, 5, "0.0.0.0", 9000),
                sock("/opt/cti/agent", 11, 6, "0.0.0.0", 9000),
                sock("/opt/crm/crm", 12, 5, "127.0.0.1", 7000),
                sock("/opt/crm/crm", 13, 6, "127.0.0.1", 7000),
                sock("/usr/bin/curl", 14, 5, "192.0.2.2", 40000, "203.0.113.9", 443),
            ]
        }
    ]
    result = audit.recommend(samples, audit.AuditOptions(platform="linux", samples=1))
    assert result["module_options"] == {
        "sessionnet.virtual_ip.vip_agent": {
            "vip_agent_processes": [
                {"path": "/opt/cti/agent", "mode": "virtual_ip"},
                {"path": "/opt/crm/crm", "mode": "virtual_loopback"},
                {"path": "/usr/bin/curl", "mode": "client_address"},
            ]
        }
    }


def test_ipv4_mapped_wildcard_and_unreadable_processes() -> None:
    assert audit.address_class("::ffff:127.0.0.1") == "loopback"
    assert audit.address_class("::") == "wildcard"
    assert audit.address_class("fe80::1%eth0") == "host"
    samples = [{"sockets": [dict(sock(AGENT, 100, 2, "0.0.0.0", 9000), exe=None)]}]
    result = audit.recommend(samples, windows(samples=1))
    assert result["programs"] == [] and "PIDs 100" in result["warnings"][0]


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        ([{"sockets": "x"}], "sample 1: 'sockets' must be a list"),
        ([{"sockets": [{"protocol": "tcp"}]}], "sample 1, socket 0: missing local_address"),
        ([{"sockets": [dict(sock(AGENT, 1, 2, "0.0.0.0", 1), protocol="sctp")]}], "protocol 'sctp'"),
        ([{"sockets": [sock(AGENT, 1, 2, "not-an-ip", 1)]}], "'not-an-ip' is not an IP address"),
    ],
)
def test_malformed_samples_name_the_input(samples: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(audit.AuditInputError, match=message):
        audit.recommend(samples, windows(samples=1))


def test_bad_options_are_refused() -> None:
    with pytest.raises(audit.AuditInputError, match="sessions"):
        audit.AuditOptions(platform="windows", samples=1, sessions="some")
    with pytest.raises(audit.AuditInputError, match="samples"):
        audit.AuditOptions(platform="linux", samples=0)


def test_probe_verdicts() -> None:
    first = [{"sockets": [sock("/usr/sbin/srv", 10, 5, "0.0.0.0", 9000)]}]
    probes = [
        {
            "argv": ["/usr/sbin/srv"],
            "started": True,
            "exit_code": 1,
            "sockets": [],
            "stderr": "Address already in use",
        },
        {
            "argv": ["/usr/sbin/srv"],
            "started": True,
            "exit_code": None,
            "sockets": [sock("/usr/sbin/srv", 11, 5, "0.0.0.0", 9000)],
        },
        {
            "argv": ["/usr/sbin/srv"],
            "started": True,
            "exit_code": None,
            "sockets": [sock("/usr/sbin/srv", 12, 5, "0.0.0.0", 9001)],
        },
        {"argv": ["/nope"], "started": False, "error": "No such file", "sockets": [], "exit_code": None},
    ]
    verdicts = [v["verdict"] for v in audit.probe_verdicts(probes, first, "linux")]
    assert verdicts == ["conflict", "shared", "different_ports", "not_started"]
