"""A kept monthly report's file as a download, for the API and the console alike, and
the words of their refusals."""

from __future__ import annotations

from fastapi import Response

from server.reports.service import file_stem
from server.storage.report_store import KeptReport
from toolhut.i18n import N_

TEXT_NO_HUT = N_("There is no such hut.")
TEXT_NO_REPORT = N_("There is no such report.")
MEDIA = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8"}


def file_response(info: KeptReport, kind: str, data: bytes) -> Response:
    stem = file_stem(info.month, info.hut_id)
    name = f"{stem}.{info.language}.pdf" if kind == "pdf" else f"{stem}.csv"
    return Response(
        data,
        media_type=MEDIA[kind],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
