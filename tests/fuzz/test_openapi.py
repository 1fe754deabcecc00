"""schemathesis over the app's own OpenAPI: the JSON APIs never answer 5xx, whatever is sent.

The mini-program API, the integration API and the staff tickets API. Left out: the WeChat
callbacks, which read their raw body (fuzzed in test_routes), the HTML back office, and
/healthz, which has no input and answers 503 by design while Rasa is down (as here).
Most cases carry a valid credential so that fuzzing reaches past the auth check.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import not_a_server_error

from api.main import create_app
from crm.config import Settings
from tests.fuzz.conftest import FuzzApi, budget, fuzzed

schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi()).include(
    path_regex=r"^/api/(mp|integration|backoffice/tickets)(/|$)"
)


def credential(api: FuzzApi, path: str) -> str:
    """The bearer token the operation at `path` accepts."""
    if path.startswith("/api/mp/"):
        return api.mp_token
    if path.startswith("/api/integration/"):
        return api.integration_key
    return api.staff_token


@schema.parametrize()
@schema.given(authorised=st.sampled_from([True, True, True, False]))
@budget(25)
def test_no_server_error(case: Case[Any], authorised: bool, fuzz_api: FuzzApi) -> None:
    headers = {"Authorization": f"Bearer {credential(fuzz_api, case.path)}"} if authorised else {}
    response = case.call(base_url=fuzz_api.url, headers=headers)
    fuzzed(f"schemathesis {case.operation.label}", past_auth=response.status_code != 401)
    case.validate_response(response, checks=[not_a_server_error])
