"""The Rasa client's view of a server's load, which decides whether a reply can come in time."""

from __future__ import annotations

import httpx
import pytest

from bot.rasa_client import RasaClient, ServerLoad


def test_an_idle_servers_turn_takes_as_long_as_its_answer() -> None:
    load = ServerLoad()
    load.done(started=10.0, now=10.2)
    assert load.turn_seconds == pytest.approx(0.2)


def test_a_busy_servers_turn_is_the_time_between_its_answers() -> None:
    """Ten turns asked together and answered 0.1 s apart: the server does one per 0.1 s,
    although the last waited a whole second."""
    load = ServerLoad(turn_seconds=0.1)
    for i in range(1, 11):
        load.done(started=0.0, now=0.1 * i)
    assert load.turn_seconds == pytest.approx(0.1)


def test_expected_time_grows_with_the_turns_in_flight() -> None:
    client = RasaClient("http://rasa-a:5005,http://rasa-b:5005", httpx.AsyncClient())
    sender = "wx:o-1"
    load = client.load[client.url_for(sender)]
    load.turn_seconds = 0.05
    load.in_flight = 1
    assert client.expected_seconds(sender) == pytest.approx(0.1)
    load.in_flight = 79
    assert client.expected_seconds(sender) == pytest.approx(4.0)
    other = next(url for url in client.load if url != client.url_for(sender))
    assert client.load[other].in_flight == 0  # each server's queue is its own


def test_an_idle_server_is_waited_for_however_slow_its_last_turn() -> None:
    # Rasa's first turn after a start took 4 s: the next, alone, is not deferred at once (with
    # Rasa down it must fail fast and say so, not promise an answer).
    client = RasaClient("http://rasa-a:5005", httpx.AsyncClient())
    client.load[client.base_url].turn_seconds = 4.0
    assert client.expected_seconds("wx:o-1") == 0.0
