"""A fix to Rasa 3.6's hot path, applied when the server starts (rasa_server/__main__.py).

Rasa checks every action server response with `jsonschema.validate(result, schema)`, which
first validates the schema itself against JSON Schema's meta-schema and builds a new validator:
about 18 ms per custom action call here, and nearly half of the Rasa server's time under load
(`make bench`, py-spy). The fix builds the validator for the same schema once. A valid response
is accepted as before; an invalid one goes to Rasa's own check, which raises its usual error.
"""

from __future__ import annotations

from typing import Any


def apply() -> None:
    """Replace RemoteAction._validate_action_result by one with a validator built once."""
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    original = RemoteAction._validate_action_result
    if getattr(original, "fast", False):
        return
    schema = RemoteAction.action_response_format_spec()
    kind = validators.validator_for(schema)
    kind.check_schema(schema)
    validator = kind(schema)

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        if validator.is_valid(result):
            return True
        return bool(original(self, result))  # raises Rasa's ValidationError

    validate_action_result.fast = True  # type: ignore[attr-defined]
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
