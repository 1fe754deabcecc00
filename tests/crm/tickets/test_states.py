"""The lifecycle: only legal moves, every state reachable, the end states final (properties)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.tickets import states

ALL = sorted(states.STATES)


def reachable(start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in states.TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@given(st.sampled_from(ALL), st.sampled_from(ALL))
def test_check_allows_exactly_the_transition_table(current: str, target: str) -> None:
    if target in states.TRANSITIONS[current]:
        states.check(current, target)
    else:
        with pytest.raises(states.IllegalTransition) as err:
            states.check(current, target)
        assert states.label(current) in err.value.detail


@given(st.lists(st.sampled_from(ALL), max_size=30))
def test_any_walk_of_legal_moves_ends_in_a_known_state_and_never_leaves_an_end(
    wanted: list[str],
) -> None:
    state = states.SUBMITTED
    for target in wanted:
        try:
            states.check(state, target)
        except states.IllegalTransition:
            continue
        assert state not in (states.CLOSED, states.CANCELLED)  # end states have no way out
        state = target
    assert state in states.STATES


def test_every_state_is_reachable_from_submitted_and_every_open_state_can_finish() -> None:
    assert reachable(states.SUBMITTED) == set(states.STATES)
    for state in states.OPEN_STATES:
        assert reachable(state) & {states.CLOSED, states.CANCELLED}


def test_the_lifecycle_has_no_cycles_so_one_notice_per_state_is_enough() -> None:
    for state in states.STATES:
        assert all(state not in reachable(nxt) for nxt in states.TRANSITIONS[state])


def test_unknown_state_is_refused() -> None:
    with pytest.raises(states.IllegalTransition):
        states.check(states.SUBMITTED, "teleported")
