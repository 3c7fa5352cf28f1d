"""poll: the one wait-until loop of the command line, `appliance up --detach` and a restore."""

from __future__ import annotations

import time

import pytest

from appliance.supervisor.polling import poll


def test_it_returns_the_first_answer_that_is_done_without_asking_again() -> None:
    answers = iter([None, None, "ready", "asked once too often"])
    assert poll(lambda: next(answers), lambda answer: answer is not None, timeout_s=5, interval_s=0) == "ready"
    assert next(answers) == "asked once too often"


def test_at_its_deadline_it_returns_the_last_answer_which_is_not_done() -> None:
    asked = []
    began = time.monotonic()
    last = poll(lambda: asked.append(1) or len(asked), lambda answer: False, timeout_s=0.3, interval_s=0.05)
    assert 0.3 <= time.monotonic() - began < 3 and last == len(asked) > 1


def test_what_the_probe_raises_ends_the_wait() -> None:
    def probe() -> bool:
        raise RuntimeError("the process died")

    with pytest.raises(RuntimeError, match="died"):
        poll(probe, bool, timeout_s=5)
