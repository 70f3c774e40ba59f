"""A Sheet of the tests' own, on a real table (categories and their loan policies): what
the import engine is tested and benchmarked with while the item, supply and member sheets
are written beside their records."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from server.domain.actors import Actor
from server.domain.record_errors import FieldError
from server.storage import audit
from server.storage.models import ItemCategory
from server.tabular.spec import Column, SheetRow

KEY = re.compile(r"[a-z0-9_]{1,32}")
NUMBERS = {"loan_days": (1, 365), "max_renewals": (0, 20), "max_per_member": (1, 50),
           "hold_hours": (1, 240)}  # fmt: skip
DEFAULTS = {"max_renewals": 1, "max_per_member": 2, "hold_hours": 48}


class CategorySheet:
    kind = "categories"
    columns = (
        Column("key", "类别代码", "Category key", required=True),
        Column("name_zh", "中文名称", "Chinese name", required=True),
        Column("name_en", "英文名称", "English name", required=True),
        Column("loan_days", "借期天数", "Loan days", required=True),
        Column("max_renewals", "续借次数", "Renewals"),
        Column("max_per_member", "每人上限", "Per member"),
        Column("hold_hours", "预约保留小时", "Hold hours"),
    )

    def check(self, db: Session, rows: Sequence[SheetRow]) -> list[FieldError]:
        errors: list[FieldError] = []
        seen: dict[str, int] = {}
        for row in rows:
            key = row.values.get("key", "")
            if not KEY.fullmatch(key):
                errors.append(FieldError("key", "小写字母、数字或下划线 / a-z, 0-9, _", row.line))
            elif key in seen:
                errors.append(FieldError("key", f"与第 {seen[key]} 行重复 / twice", row.line))
            else:
                seen[key] = row.line
            for name in ("name_zh", "name_en"):
                if not row.values.get(name):
                    errors.append(FieldError(name, "必填 / required", row.line))
            for name, (low, high) in NUMBERS.items():
                text = row.values.get(name)
                if text is None:
                    if name == "loan_days":
                        errors.append(FieldError(name, "必填 / required", row.line))
                    continue
                if not text.isdigit() or not low <= int(text) <= high:
                    errors.append(FieldError(name, f"{low}..{high}", row.line))
        return errors

    def write(self, db: Session, rows: Sequence[SheetRow], *, actor: Actor, now: datetime) -> int:
        wanted = {row.values["key"]: _values(row) for row in rows}
        existing = {
            c.key: c for c in db.scalars(select(ItemCategory).where(ItemCategory.key.in_(wanted)))
        }
        new = [values for key, values in wanted.items() if key not in existing]
        changes: list[tuple[object, dict[str, Any] | None, dict[str, Any] | None]] = []
        for key, values in wanted.items():
            category = existing.get(key)
            if category is None:
                changes.append((key, None, values))
                continue
            before = {name: getattr(category, name) for name in values}
            if before != values:
                for name, value in values.items():
                    setattr(category, name, value)
                category.version += 1
                changes.append((key, before, values))
        if new:
            db.execute(insert(ItemCategory), new)
        db.flush()
        audit.record_many(
            db, actor=actor, action="category.import", entity="category", at=now, entries=changes
        )
        return len(changes)

    def export(self, db: Session) -> Iterator[dict[str, str]]:
        for category in db.scalars(select(ItemCategory).order_by(ItemCategory.key)):
            yield {column.key: str(getattr(category, column.key)) for column in self.columns}


def _values(row: SheetRow) -> dict[str, Any]:
    values: dict[str, Any] = {
        "key": row.values["key"],
        "name_zh": row.values["name_zh"],
        "name_en": row.values["name_en"],
    }
    for name in NUMBERS:
        text = row.values.get(name)
        values[name] = int(text) if text is not None else DEFAULTS[name]
    return values
