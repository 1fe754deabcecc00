"""Reading one membership or policy rule's data from kb_rules, by id."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from crm.errors import KnowledgeBaseError
from crm.knowledge.models import Rule


def rule(session: Session, rule_id: str) -> dict[str, Any]:
    """The full YAML entry of a rule, or KnowledgeBaseError when it is not loaded."""
    found = session.get(Rule, rule_id)
    if found is None:
        raise KnowledgeBaseError(f"{rule_id} (kb_rules)", rule_id, "rule is not loaded")
    return found.data


def number_in(session: Session, rule_id: str, field: str, pattern: str) -> int:
    """The number `pattern` (one group) finds in a rule's sentence-valued field."""
    found = re.search(pattern, str(rule(session, rule_id).get(field, "")))
    if found is None:
        raise KnowledgeBaseError(f"{rule_id} (kb_rules)", rule_id, f"{field} lacks {pattern}")
    return int(found.group(1))
