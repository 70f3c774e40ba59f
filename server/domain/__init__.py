"""Lending rules as plain Python: no web framework, no database, no MQTT."""

from server.domain.labels import parse_scan_text
from server.domain.lending import (
    Action,
    Decision,
    Feedback,
    Refusal,
    check_card,
    decide_scan,
)
from server.domain.model import Category, ItemStatus, ItemView, LoanView, MemberStatus, MemberView
from server.domain.policy import DEFAULT_POLICY, LoanPolicy

__all__ = [
    "DEFAULT_POLICY",
    "Action",
    "Category",
    "Decision",
    "Feedback",
    "ItemStatus",
    "ItemView",
    "LoanPolicy",
    "LoanView",
    "MemberStatus",
    "MemberView",
    "Refusal",
    "check_card",
    "decide_scan",
    "parse_scan_text",
]
