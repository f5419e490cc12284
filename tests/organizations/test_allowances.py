"""Allowances count uses per key in Django's cache, in a window that opens at the first use."""

from __future__ import annotations

import time

from portal.organizations.allowances import allowance_take


def test_the_allowance_is_spent_after_its_limit_and_each_key_counts_alone():
    assert [allowance_take({"a": 3}) for _ in range(4)] == [True, True, True, False]
    assert allowance_take({"b": 3})
    assert not allowance_take({"a": 3, "c": 3})  # one spent allowance refuses the use...
    assert [allowance_take({"c": 3}) for _ in range(3)] == [True, True, False]  # ...which still counted against c


def test_the_window_opens_at_the_first_use_and_closes_after_it():
    assert [allowance_take({"d": 1}, window_seconds=1) for _ in range(2)] == [True, False]
    time.sleep(1.1)  # the cache's own expiry: the one real wait in these tests
    assert allowance_take({"d": 1}, window_seconds=1)
