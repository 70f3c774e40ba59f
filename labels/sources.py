"""Where label data comes from: a CSV file, or the server's HTTP API (standard library only)."""

from __future__ import annotations

import csv
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from labels.errors import LabelError
from labels.model import DEFAULT_HINT, CardLabel, ItemLabel, check_base_url, check_tag
from labels.texts import SUPPLY_HINT

log = logging.getLogger(__name__)

ITEM_COLUMNS = ("tag", "name_zh", "name_en", "hut_name")  # name_en may be empty or absent
CARD_COLUMNS = ("name", "building_unit", "card_uid")  # name, building_unit: only if printed
MAX_CSV_BYTES = 10_000_000
MAX_API_BYTES = 50_000_000
PAGE_ROWS = 500  # the most GET /api/v1/items gives per page
MAX_PAGES = 1_000
_MAX_REPORTED = 10
# Given one, rows that cannot become labels are reported to it and left out; without, any
# such row stops the whole batch.
Refuse = Callable[[str], None]


def _read_csv(path: Path, *, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise LabelError(f"{path}: larger than {MAX_CSV_BYTES} bytes")
        # utf-8-sig: files saved by Excel/WPS start with a byte-order mark.
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabelError(f"{path}: not UTF-8 text ({exc.reason}); save the CSV as UTF-8") from exc
    except OSError as exc:
        raise LabelError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in required if c not in header]
    if missing:
        raise LabelError(f"{path}: missing column(s) {', '.join(missing)}; header is {header}")
    rows = []
    for row in reader:
        clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if not any(clean.values()):
            continue  # blank line
        rows.append((reader.line_num, clean))
    if not rows:
        raise LabelError(f"{path}: no rows")
    return rows


def _collect(
    path: Path, rows: Iterable[tuple[int, dict[str, str]]], build: Any, refuse: Refuse | None
) -> list[Any]:
    out, problems = [], []
    for line, row in rows:
        try:
            out.append(build(row))
        except LabelError as exc:
            problems.append(f"line {line}: {exc}")
    if problems and refuse is not None and out:
        for problem in problems:
            refuse(f"{path} {problem}")
    elif problems:
        more = (
            f"\n  ... and {len(problems) - _MAX_REPORTED} more"
            if len(problems) > _MAX_REPORTED
            else ""
        )
        raise LabelError(f"{path}:\n  " + "\n  ".join(problems[:_MAX_REPORTED]) + more)
    return out


def items_from_csv(
    path: Path,
    *,
    base_url: str,
    hut_name: str | None = None,
    hint: str = DEFAULT_HINT,
    refuse: Refuse | None = None,
) -> list[ItemLabel]:
    """Rows ``tag,name_zh,name_en,hut_name``; ``hut_name`` overrides an empty column."""
    base = check_base_url(base_url)
    required = [c for c in ITEM_COLUMNS if c != "name_en" and not (c == "hut_name" and hut_name)]
    rows = _read_csv(path, required=required)

    def build(row: dict[str, str]) -> ItemLabel:
        return ItemLabel.for_item(
            base_url=base,
            tag=row["tag"],
            name_zh=row["name_zh"],
            name_en=row.get("name_en", ""),
            hut_name=row.get("hut_name") or hut_name or "",
            hint=hint,
        )

    labels: list[ItemLabel] = _collect(path, rows, build, refuse)
    _refuse_duplicates([lab.tag for lab in labels])
    return labels


def cards_from_csv(
    path: Path,
    *,
    key: bytes,
    with_name: bool = False,
    with_address: bool = False,
    refuse: Refuse | None = None,
) -> list[CardLabel]:
    """Rows ``name,building_unit,card_uid``; only ``card_uid`` is needed unless the name
    (``with_name``) or the flat (``with_address``) is to be printed."""
    required = ["card_uid"]
    required += ["name"] if with_name else []
    required += ["building_unit"] if with_address else []
    rows = _read_csv(path, required=required)

    def build(row: dict[str, str]) -> CardLabel:
        label = CardLabel.for_card(
            card_uid=row["card_uid"],
            key=key,
            name=row["name"] if with_name else "",
            building_unit=row["building_unit"] if with_address else "",
        )
        if with_name and not label.name:
            raise LabelError("name is empty")
        if with_address and not label.building_unit:
            raise LabelError("building_unit is empty")
        return label

    return _collect(path, rows, build, refuse)


def _refuse_duplicates(tags: Sequence[str]) -> None:
    dupes = sorted(tag for tag, n in Counter(tags).items() if n > 1)
    if dupes:
        raise LabelError(f"duplicate tags: {', '.join(dupes)}")


# --- the server's API -------------------------------------------------------------------------


def parse_items(payload: Any) -> list[dict[str, str]]:
    """``{"data": [{"tag", "name_zh", "name_en", "category", "hut", ...}], "count": N}``
    -> plain rows. The one place that knows the shape of GET /api/v1/items.
    """
    if not isinstance(payload, Mapping) or not isinstance(payload.get("data"), list):
        raise LabelError("server answer has no 'data' list of items")
    rows = []
    for n, item in enumerate(payload["data"]):
        if not isinstance(item, Mapping) or not isinstance(item.get("tag"), str):
            raise LabelError(f"server item {n} has no 'tag'")
        rows.append(
            {
                "tag": item["tag"],
                "name_zh": str(item.get("name_zh") or ""),
                "name_en": str(item.get("name_en") or ""),
                "category": str(item.get("category") or ""),
                "hut": str(item.get("hut") or ""),
            }
        )
    return rows


def parse_huts(payload: Any) -> dict[str, str]:
    """``{"data": [{"id", "name", ...}], "count": N}`` -> {id: name}."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("data"), list):
        raise LabelError("server answer has no 'data' list of huts")
    return {
        str(h["id"]): str(h.get("name") or h["id"])
        for h in payload["data"]
        if isinstance(h, Mapping) and "id" in h
    }


def select_items(
    rows: Sequence[Mapping[str, str]], *, category: str | None = None, tags: Sequence[str] = ()
) -> list[Mapping[str, str]]:
    """Filter by category and/or chosen tags; asking for tags the server lacks is an error."""
    chosen = list(rows)
    if tags:
        wanted = [check_tag(t) for t in tags]
        by_tag = {r["tag"]: r for r in chosen}
        unknown = [t for t in wanted if t not in by_tag]
        if unknown:
            raise LabelError(f"unknown tag(s): {', '.join(unknown)}")
        chosen = [by_tag[t] for t in dict.fromkeys(wanted)]
    if category is not None:
        chosen = [r for r in chosen if r.get("category") == category]
    if not chosen:
        raise LabelError("no items match" + (f" category {category!r}" if category else ""))
    return chosen


def _get_json(url: str, *, timeout: float) -> Any:
    request = Request(url, headers={"Accept": "application/json", "User-Agent": "toolhut-labels"})
    try:
        with urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked by caller
            body = response.read(MAX_API_BYTES + 1)
    except HTTPError as exc:
        raise LabelError(f"GET {url}: HTTP {exc.code} {exc.reason}") from exc
    except (URLError, TimeoutError, OSError) as exc:
        raise LabelError(f"GET {url}: {getattr(exc, 'reason', exc)}") from exc
    if len(body) > MAX_API_BYTES:
        raise LabelError(f"GET {url}: answer larger than {MAX_API_BYTES} bytes")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise LabelError(f"GET {url}: not JSON ({exc})") from exc


def _all_rows(url: str, params: Mapping[str, str], *, timeout: float) -> list[dict[str, str]]:
    """Every row of a list, page after page where the server pages it (an answer with a
    ``total``: GET /api/v1/items); a list that does not page is one answer."""
    rows: list[dict[str, str]] = []
    for _ in range(MAX_PAGES):
        query = urlencode({**params, "limit": PAGE_ROWS, "offset": len(rows)})
        payload = _get_json(f"{url}?{query}", timeout=timeout)
        page = parse_items(payload)
        rows.extend(page)
        total = payload.get("total")
        if not isinstance(total, int) or not page or len(rows) >= total:
            return rows
    raise LabelError(f"GET {url}: more than {MAX_PAGES * PAGE_ROWS} rows")


def items_from_server(
    server: str,
    *,
    base_url: str,
    hut: str | None = None,
    category: str | None = None,
    tags: Sequence[str] = (),
    hint: str = DEFAULT_HINT,
    timeout: float = 15.0,
    refuse: Refuse | None = None,
) -> list[ItemLabel]:
    """Item labels for a hut (or every hut), a category, or chosen tags, from the server's API."""
    return _from_server(
        server,
        "items",
        base_url=base_url,
        hut=hut,
        category=category,
        tags=tags,
        hint=hint,
        timeout=timeout,
        refuse=refuse,
    )


def supplies_from_server(
    server: str,
    *,
    base_url: str,
    hut: str | None = None,
    tags: Sequence[str] = (),
    hint: str = SUPPLY_HINT,
    timeout: float = 15.0,
    refuse: Refuse | None = None,
) -> list[ItemLabel]:
    """Labels for the shelves of supplies (first aid...), which are taken, not lent."""
    return _from_server(
        server,
        "supplies/public",
        base_url=base_url,
        hut=hut,
        category=None,
        tags=tags,
        hint=hint,
        timeout=timeout,
        refuse=refuse,
    )


def _from_server(
    server: str,
    what: str,
    *,
    base_url: str,
    hut: str | None,
    category: str | None,
    tags: Sequence[str],
    hint: str,
    timeout: float,
    refuse: Refuse | None,
) -> list[ItemLabel]:
    api = check_base_url(server) + "/api/v1"
    base = check_base_url(base_url)
    rows = _all_rows(f"{api}/{what}", {"hut": hut} if hut else {}, timeout=timeout)
    huts = parse_huts(_get_json(f"{api}/huts", timeout=timeout))
    if hut is not None and hut not in huts:
        raise LabelError(
            f"unknown hut {hut!r}; the server knows {', '.join(sorted(huts)) or 'none'}"
        )
    if hut is not None:
        # Filter here too, so a server that ignores ?hut= cannot print another hut's items.
        rows = [r for r in rows if r["hut"] in ("", hut)]
    chosen = select_items(rows, category=category, tags=tags)
    log.info("labels: %d of %d %s from %s", len(chosen), len(rows), what, server)
    problems, labels = [], []
    for row in chosen:
        try:
            labels.append(
                ItemLabel.for_item(
                    base_url=base,
                    tag=row["tag"],
                    name_zh=row["name_zh"],
                    name_en=row["name_en"],
                    hut_name=huts.get(row["hut"], row["hut"]),
                    hint=hint,
                )
            )
        except LabelError as exc:
            problems.append(f"item {row['tag']!r}: {exc}")
    if problems and refuse is not None and labels:
        for problem in problems:
            refuse(f"server {problem}")
    elif problems:
        raise LabelError(
            "server items unfit for labels:\n  " + "\n  ".join(problems[:_MAX_REPORTED])
        )
    return labels


__all__ = [
    "CARD_COLUMNS",
    "ITEM_COLUMNS",
    "cards_from_csv",
    "items_from_csv",
    "items_from_server",
    "parse_huts",
    "parse_items",
    "select_items",
    "supplies_from_server",
]
