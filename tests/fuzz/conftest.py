"""Fuzzing: one hypothesis profile, a count of the inputs each target received, a served api.

`FUZZ_EXAMPLES=N` runs every target with N examples instead of its modest default.
"""

from __future__ import annotations

import os
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import redis
from _pytest.terminal import TerminalReporter
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine

from crm.db import session_scope
from crm.integration.service import create_client
from tests.api.conftest import CLOSED_PORT_URL
from tests.crm.integration.conftest import SCOPES, client_name
from tests.servers import serve_api

settings.register_profile(
    "fuzz",
    deadline=None,
    database=None,  # no .hypothesis/ directory in the working tree; failures print their seed
    print_blob=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the served api is shared by all examples on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))

FUZZED: Counter[str] = Counter()
PAST_AUTH: Counter[str] = Counter()
STAFF_TOKEN = "fuzz-staff-" + secrets.token_hex(8)


def budget(default: int) -> settings:
    """The fuzz profile with `default` examples, or FUZZ_EXAMPLES when it is set."""
    return settings(settings.get_profile("fuzz"), max_examples=EXAMPLES or default)


def fuzzed(target: str, past_auth: bool | None = None) -> None:
    """Count one input given to `target` (reported at the end of the run), and whether it got
    past the auth check, for targets behind one."""
    FUZZED[target] += 1
    if past_auth is not None:
        PAST_AUTH[target] += past_auth


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    if not FUZZED:
        return
    terminalreporter.write_sep("-", "inputs fuzzed per target")
    for target, count in sorted(FUZZED.items()):
        passed = f"  ({PAST_AUTH[target]} past auth)" if target in PAST_AUTH else ""
        terminalreporter.write_line(f"{count:7d}  {target}{passed}")
    terminalreporter.write_line(f"{sum(FUZZED.values()):7d}  in all")


@dataclass(frozen=True)
class FuzzApi:
    """The served api and credentials that get a request past each API's auth check."""

    url: str
    mp_token: str
    integration_key: str
    staff_token: str


@pytest.fixture
def fuzz_api(engine: Engine, redis_db: redis.Redis) -> Iterator[FuzzApi]:
    """The api without Rasa, its per-IP limits out of the fuzzer's way, and valid credentials."""
    unlimited = 10**9
    with serve_api(
        rasa_url=CLOSED_PORT_URL,
        mp_api_requests_per_ip_per_minute=unlimited,
        integration_requests_per_ip_per_minute=unlimited,
        signature_failures_per_ip_per_minute=unlimited,
        openid_messages_per_minute=unlimited,
        staff_api_tokens={STAFF_TOKEN: "模糊测试"},
    ) as url:
        code = "fuzz-" + secrets.token_hex(8)
        openid = "mp-fuzz-" + secrets.token_hex(8)
        httpx.post(f"{url}/sandbox/codes", json={"code": code, "openid": openid}, timeout=10)
        login = httpx.post(f"{url}/api/mp/login", json={"code": code}, timeout=10)
        assert login.status_code == 200, login.text
        with session_scope() as session:
            _, key = create_client(session, client_name("fuzz"), SCOPES)
        yield FuzzApi(url, str(login.json()["token"]), key, STAFF_TOKEN)
