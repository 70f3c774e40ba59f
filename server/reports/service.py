"""Building a month's report: its figures, the CSV and a PDF per language, kept in the
database for download. The command line, the console, the API and the monthly send all
build through ``build_and_keep``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from server.domain.actors import Actor
from server.reports.build import monthly_figures
from server.reports.csv_table import to_csv
from server.reports.figures import Month, MonthlyFigures
from server.reports.pdf import render_pdf
from server.storage import audit, report_store
from server.storage.models import DEFAULT_TIMEZONE
from toolhut.i18n import LANGUAGES


@dataclass(frozen=True, slots=True)
class BuiltReport:
    figures: MonthlyFigures
    csv: bytes
    pdfs: dict[str, bytes]  # language -> PDF
    kept_ids: dict[str, int] = field(default_factory=dict)  # language -> monthly_reports.id


def file_stem(month: str, hut_id: str | None) -> str:
    """The files' name without its ending: toolhut-report-2026-11-demo-hut (or -district)."""
    return f"toolhut-report-{month}-{hut_id or 'district'}"


def build(
    db: Session,
    *,
    month: Month,
    hut_id: str | None,
    now: datetime,
    languages: Sequence[str] = LANGUAGES,
    district_zone: str = DEFAULT_TIMEZONE,
) -> BuiltReport:
    figures = monthly_figures(db, month=month, hut_id=hut_id, now=now, district_zone=district_zone)
    pdfs = {lang: render_pdf(figures, lang=lang, built_at=now) for lang in languages}
    return BuiltReport(figures, to_csv(figures), pdfs)


def build_and_keep(
    db: Session,
    *,
    month: Month,
    hut_id: str | None,
    now: datetime,
    actor: Actor,
    languages: Sequence[str] = LANGUAGES,
    district_zone: str = DEFAULT_TIMEZONE,
) -> BuiltReport:
    """Build the report and keep a row per language, with its audit entry (flushed, not
    committed)."""
    built = build(
        db, month=month, hut_id=hut_id, now=now, languages=languages, district_zone=district_zone
    )
    keep(db, built, now=now, actor=actor.name)
    audit.record(
        db,
        actor=actor,
        action="report.build",
        entity="monthly_report",
        entity_id=f"{month}:{hut_id or 'district'}",
        at=now,
        after={"month": str(month), "hut_id": hut_id, "kept": built.kept_ids},
    )
    return built


def keep(db: Session, built: BuiltReport, *, now: datetime, actor: str) -> None:
    """Keep a row per language of ``built`` (its ids in ``built.kept_ids``; flushed, not
    committed)."""
    month, hut_id = str(built.figures.month), built.figures.hut_id
    for lang, pdf in built.pdfs.items():
        built.kept_ids[lang] = report_store.keep(
            db,
            month=month,
            hut_id=hut_id,
            language=lang,
            pdf=pdf,
            csv=built.csv,
            now=now,
            actor=actor,
        )
