"""The Wine runner of these tests (conftest.py) under real Wine: what a failed run reports, and
that only a start Wine aborted before the test program's main is retried, never the program's own
failure."""

from __future__ import annotations

import warnings

import pytest

from .conftest import OWN_FAILURE_CODES, Wine, WineStartRetried, aborted_start, split_wine_log, winpath

REFUSED_PORT = "41099"  # nothing listens there in the namespace
WSAECONNREFUSED = 10061


def test_a_failed_call_names_itself_on_stderr_and_exits_with_an_own_code(wine: Wine) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", WineStartRetried)  # a program's own failure is never retried
        result = wine.run(wine.test_program("vip_testclient"), "connect", "127.0.0.1", REFUSED_PORT)
    assert result.stdout == f"ERR connect {WSAECONNREFUSED}\n", result
    assert result.stderr == f"vip_testclient: connect() failed: error {WSAECONNREFUSED}\n", result
    assert result.returncode == 3 and result.returncode in OWN_FAILURE_CODES, result
    assert result.starts == 1 and result.note == "", result
    # the assertion message of a run carries all of it
    text = str(result)
    assert "connect 127.0.0.1 41099`: exit 3" in text and "connect() failed" in text and "ERR connect" in text


def test_connectex_failure_says_which_step_failed(wine: Wine) -> None:
    result = wine.run(wine.test_program("vip_testclient"), "connectex", "::ffff:127.0.0.1", REFUSED_PORT)
    assert result.stdout == f"ERR connect {WSAECONNREFUSED}\n", result
    assert (
        "WSAGetOverlappedResult() of ConnectEx failed" in result.stderr
        or "ConnectEx() failed" in result.stderr
    )


def test_usage_errors_say_why(wine: Wine) -> None:
    result = wine.run(wine.test_program("vip_testclient"), "nonsense")
    assert result.returncode == 2 and "unknown command" in result.stderr, result


def test_a_start_that_never_reaches_main_is_retried_once_and_reported(wine: Wine) -> None:
    # Wine cannot start a program that is not there: main never runs, nothing of ours prints
    missing = winpath(f"/nonexistent-{id(wine)}/vip_testclient.exe")
    with pytest.warns(WineStartRetried, match="never reached main"):
        result = wine.run(missing, "hostname")
    assert result.returncode != 0 and result.starts == 0, result
    assert result.note.startswith("second attempt (the first: the test program never reached main"), result
    assert "this one too" in result.note and "wineserver: running" in result.note, result


@pytest.mark.parametrize(
    ("starts", "code", "stdout", "stderr", "retried"),
    [
        (1, 1, "", "", False),  # main ran: whatever happened is the program's own doing
        (0, 3, "", "", False),  # an own failure code: the program ran, its output went missing
        (0, 2, "", "", False),
        (0, 1, "ERR connect 5\n", "", False),  # something of ours printed
        (0, 2, "", "viprun: unknown option '--x'\n", False),  # the launcher said why
        (0, 1, "", "", True),  # exit 1, no START line, no output: Wine's abort
        (0, 53, "", "wine: could not load kernel32.dll\n", True),
        # seen under load: Wine's CreateProcessW in viprun ended with ERROR_INTERNAL_ERROR
        (
            0,
            127,
            "",
            "viprun: cannot start 'Z:\\t\\vip_testclient.exe' (Windows error 1359); check the path\n",
            True,
        ),
        (
            0,
            127,
            "",
            "viprun: cannot start 'Z:\\t\\vip_testclient.exe' (Windows error 5); check the path\n",
            False,
        ),
        (0, 127, "", "viprun: program 'x.exe' not found; give its full path or a name on PATH\n", False),
    ],
)
def test_what_counts_as_an_aborted_start(
    starts: int, code: int, stdout: str, stderr: str, retried: bool
) -> None:
    assert (aborted_start(True, starts, code, stdout, stderr) is not None) is retried
    # a command that runs no test program (viprun's own input checks) is never retried
    assert aborted_start(False, starts, code, stdout, stderr) is None


def test_wines_own_error_lines_are_kept_apart_from_the_programs_stderr() -> None:
    stderr = (
        "0024:err:module:import_dll Library X.dll not found\nvip_testclient: bind() failed: error 10048\n"
    )
    assert split_wine_log(stderr) == (
        "vip_testclient: bind() failed: error 10048\n",
        "0024:err:module:import_dll Library X.dll not found\n",
    )
    assert split_wine_log("viprun: cannot start 'x' (Windows error 2)\n")[1] == ""
    # before the process has a thread id (seen under load, with viprun's line after it)
    early = "err:virtual:virtual_alloc_first_teb wine: failed to map the shared user data: c0000018\n"
    viprun = "viprun: cannot start 'Z:\\t\\vip_testclient.exe' (Windows error 1359); check the path\n"
    assert split_wine_log(early + viprun) == (viprun, early)
    assert aborted_start(True, 0, 127, "", viprun) is not None


def test_the_runs_persistent_wineserver_serves_the_whole_run(wine: Wine) -> None:
    """The fixture's ``wineserver -p`` was started and waited for before any program (a program
    that finds no server starts a short-lived one, whose exits race with later starts), and it
    is still the server (this module runs after test_wine.py)."""
    assert wine.server_pid is not None, wine.server_state()
    assert wine.server_state() == f"wineserver: running (pid {wine.server_pid})"
