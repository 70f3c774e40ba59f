"""Lending rules as plain Python: no web framework, no database, no MQTT."""

from server.domain.access import CardAccess, card_access
from server.domain.consumables import BatchView, StockView, expiring, restock_needed
from server.domain.labels import CONDITION_CARDS, parse_condition_text, parse_scan_text
from server.domain.lending import (
    Action,
    Decision,
    Feedback,
    Refusal,
    check_card,
    check_reservation,
    decide_renewal,
    decide_scan,
    decide_take,
    status_after_return,
)
from server.domain.model import (
    CardStatus,
    Category,
    ItemCondition,
    ItemStatus,
    ItemView,
    LoanView,
    MemberFlag,
    MemberStatus,
    MemberView,
)
from server.domain.policy import DEFAULT_POLICY, CategoryRule, LoanPolicy
from server.domain.sessions import (
    SessionFlag,
    SessionMode,
    StocktakeLine,
    StocktakeResult,
    flag_on_close,
    session_mode,
    stocktake_report,
)

__all__ = [
    "CONDITION_CARDS",
    "DEFAULT_POLICY",
    "Action",
    "BatchView",
    "CardAccess",
    "CardStatus",
    "Category",
    "CategoryRule",
    "Decision",
    "Feedback",
    "ItemCondition",
    "ItemStatus",
    "ItemView",
    "LoanPolicy",
    "LoanView",
    "MemberFlag",
    "MemberStatus",
    "MemberView",
    "Refusal",
    "SessionFlag",
    "SessionMode",
    "StockView",
    "StocktakeLine",
    "StocktakeResult",
    "card_access",
    "check_card",
    "check_reservation",
    "decide_renewal",
    "decide_scan",
    "decide_take",
    "expiring",
    "flag_on_close",
    "parse_condition_text",
    "parse_scan_text",
    "restock_needed",
    "session_mode",
    "status_after_return",
    "stocktake_report",
]
