"""Path parameters and request bodies with their bounds, so a hostile value is a 422 at
the edge and never reaches the database (a NUL or an id past int4 made PostgreSQL fail:
500). Card UIDs are checked by server.card_uids, whose refusal staff can read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, BaseModel, field_validator

from toolhut.contract import HUT_ID_PATTERN, refuse_control_chars

# The tables' id columns are INTEGER: PostgreSQL's int4 (and what SQLite's driver binds
# without overflow) ends here.
MAX_ROW_ID = 2**31 - 1


RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
HutIdPath = Annotated[str, Path(pattern=HUT_ID_PATTERN)]
ItemTagPath = Annotated[str, Path(max_length=64), AfterValidator(refuse_control_chars)]


class RequestBody(BaseModel):
    """Base of every request body: no string field takes a control character."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_chars(cls, value: Any) -> Any:
        return refuse_control_chars(value) if isinstance(value, str) else value
