"""The monthly reports' API bodies: what to build, and a kept report as listed."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.reports.figures import Month, MonthError
from server.storage.report_store import KeptReport

Language = Literal["zh_CN", "en"]
BOTH: tuple[Language, ...] = ("zh_CN", "en")


class ReportBuild(BaseModel):
    model_config = ConfigDict(extra="forbid")

    month: str = Field(description="YYYY-MM; a month not over is counted up to now")
    hut: str | None = Field(None, max_length=64, description="one hut; null: the district")
    languages: list[Language] = Field(
        default_factory=lambda: list(BOTH), min_length=1, max_length=2
    )

    @field_validator("month")
    @classmethod
    def _month(cls, text: str) -> str:
        try:
            return str(Month.parse(text))
        except MonthError as exc:
            raise ValueError(str(exc)) from None


class ReportRecord(BaseModel):
    id: int
    month: str
    hut_id: str | None
    language: str
    created_at: datetime
    created_by: str
    pdf_bytes: int
    csv_bytes: int
    pdf_url: str
    csv_url: str

    @classmethod
    def of(cls, report: KeptReport) -> ReportRecord:
        base = f"/api/v1/reports/{report.id}"
        return cls(
            id=report.id,
            month=report.month,
            hut_id=report.hut_id,
            language=report.language,
            created_at=report.created_at,
            created_by=report.created_by,
            pdf_bytes=report.pdf_bytes,
            csv_bytes=report.csv_bytes,
            pdf_url=f"{base}/pdf",
            csv_url=f"{base}/csv",
        )
