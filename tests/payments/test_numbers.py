"""Payment numbers: 20 digits whose Damm check digit catches every mistyped digit and every
swap of neighbouring digits before money goes to the wrong notice."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.payments.numbers import (
    InvalidPaymentNumber,
    damm_digit,
    format_payment_number,
    new_payment_number,
    normalize_payment_number,
)

numbers = st.builds(new_payment_number, st.integers(2000, 2099), st.integers(1, 10**6))


def test_damm_reference_value() -> None:
    assert damm_digit("572") == 4  # the published example
    assert damm_digit("5724") == 0


def test_a_new_number_has_twenty_digits_the_year_the_unit_and_its_check_digit() -> None:
    n = new_payment_number(2026, 7)
    assert len(n) == 20 and n.isdigit() and n.startswith("260007")
    assert normalize_payment_number(n) == n
    assert new_payment_number(2026, 7) != n  # random part


@given(numbers, st.integers(0, 19), st.integers(1, 9))
def test_every_single_wrong_digit_is_caught(number: str, at: int, delta: int) -> None:
    wrong = number[:at] + str((int(number[at]) + delta) % 10) + number[at + 1 :]
    with pytest.raises(InvalidPaymentNumber, match="check digit"):
        normalize_payment_number(wrong)


@given(numbers, st.integers(0, 18))
def test_every_swap_of_neighbouring_digits_is_caught(number: str, at: int) -> None:
    swapped = number[:at] + number[at + 1] + number[at] + number[at + 2 :]
    if swapped == number:
        return  # two equal digits: nothing was swapped
    with pytest.raises(InvalidPaymentNumber, match="check digit"):
        normalize_payment_number(swapped)


def test_groups_and_hyphens_are_accepted_and_other_input_explained() -> None:
    n = new_payment_number(2026, 1)
    assert normalize_payment_number(format_payment_number(n)) == n
    assert normalize_payment_number("-".join(n[i : i + 4] for i in range(0, 20, 4))) == n
    with pytest.raises(InvalidPaymentNumber, match="20 digits"):
        normalize_payment_number(n[:-1])
    with pytest.raises(InvalidPaymentNumber, match="digits only"):
        normalize_payment_number(n[:-1] + "X")
    with pytest.raises(InvalidPaymentNumber, match="digits only"):
        normalize_payment_number("２" + n[1:])  # full-width digits are not what is printed
    with pytest.raises(InvalidPaymentNumber, match="enter"):
        normalize_payment_number("  ")
