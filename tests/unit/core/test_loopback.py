"""The virtual loopback rule (seed 000): session N -> 127.X.X.X with X.X.X = N + 1."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionnet_vip.addressing import (
    MAX_SESSION_ID,
    MIN_SESSION_ID,
    virtual_loopback_address,
    virtual_loopback_session,
)
from sessionnet_vip.errors import AddressError


@pytest.mark.parametrize(
    ("session", "address"),
    [
        (1, "127.0.0.2"),
        (7, "127.0.0.8"),
        (254, "127.0.0.255"),
        (255, "127.0.1.0"),
        (65535, "127.1.0.0"),
        (MAX_SESSION_ID, "127.255.255.254"),
    ],
)
def test_documented_examples(session: int, address: str) -> None:
    assert str(virtual_loopback_address(session)) == address
    assert virtual_loopback_session(address) == session


@given(st.integers(min_value=MIN_SESSION_ID, max_value=MAX_SESSION_ID))
def test_round_trip(session: int) -> None:
    address = virtual_loopback_address(session)
    assert address in ipaddress.IPv4Network("127.0.0.0/8")
    assert virtual_loopback_session(str(address)) == session


@given(st.integers(min_value=MIN_SESSION_ID, max_value=MAX_SESSION_ID - 1))
def test_carry_is_plain_addition(session: int) -> None:
    assert int(virtual_loopback_address(session + 1)) == int(virtual_loopback_address(session)) + 1


@given(st.one_of(st.integers(max_value=-1), st.integers(min_value=MAX_SESSION_ID + 1)))
def test_out_of_range_refused_naming_value_and_range(session: int) -> None:
    with pytest.raises(AddressError) as err:
        virtual_loopback_address(session)
    assert str(session) in str(err.value)
    assert f"{MIN_SESSION_ID} to {MAX_SESSION_ID}" in str(err.value)


@pytest.mark.parametrize("bad", [1.5, "seven", None, True, [], "7.0", float("nan")])
def test_non_integer_refused(bad: object) -> None:
    with pytest.raises(AddressError, match="not an integer|boolean"):
        virtual_loopback_address(bad)


def test_integer_strings_and_whole_floats_accepted() -> None:
    assert str(virtual_loopback_address("7")) == "127.0.0.8"
    assert str(virtual_loopback_address(7.0)) == "127.0.0.8"


@pytest.mark.parametrize(
    ("session", "address", "reason"),
    [(0, "127.0.0.1", "host's own loopback"), (16777214, "127.255.255.255", "broadcast address")],
)
def test_the_formulas_two_ends_are_refused_with_the_reason(session: int, address: str, reason: str) -> None:
    with pytest.raises(AddressError, match=reason) as err:
        virtual_loopback_address(session)
    assert f"session ID {session} is refused" in str(err.value) and "1 to 16777213" in str(err.value)
    with pytest.raises(AddressError, match=reason):
        virtual_loopback_session(address)


@pytest.mark.parametrize("bad", ["127.0.0.0", "10.0.0.1", "128.0.0.1", "0.0.0.0", "not-an-ip", "::1", 7])
def test_inverse_refuses_addresses_outside_the_scheme(bad: object) -> None:
    with pytest.raises(AddressError) as err:
        virtual_loopback_session(bad)
    assert "127.0.0.2 to 127.255.255.254" in str(err.value)
