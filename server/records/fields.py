"""What the records' field models share: the base that refuses control characters, the
bounded field types, and ``validated`` (a model from a sheet's cells, every bad field
named as a FieldError), so the API body and the spreadsheet import are one definition."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from server.domain.labels import TAG_PATTERN
from server.domain.record_errors import FieldError, InvalidFieldsError
from toolhut.contract import HUT_ID_PATTERN, refuse_control_chars
from toolhut.i18n import bilingual

M = TypeVar("M", bound=BaseModel)

TEXT_NO_HUT = bilingual("no hut with this id")
TEXT_NO_CATEGORY = bilingual("no category with this key")
TEXT_TAG_TAKEN = bilingual("this tag is taken (by an item or a supply)")
TEXT_REQUIRED = bilingual("cannot be empty")
TEXT_TWICE = bilingual("the same tag is on more than one row")

Name = Annotated[str, Field(min_length=1, max_length=200)]
Note = Annotated[str, Field(max_length=2000)]
Owner = Annotated[str, Field(min_length=1, max_length=200)]


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


Tag = Annotated[
    str,
    BeforeValidator(_upper),
    Field(pattern=TAG_PATTERN, description="as on the label (read in upper case)"),
]
HutId = Annotated[str, Field(pattern=HUT_ID_PATTERN)]
# A category's key: lower-case letters, digits and "_", a letter first (the API's path too).
CATEGORY_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
CategoryKey = Annotated[str, Field(pattern=CATEGORY_KEY_PATTERN)]
Days = Annotated[int, Field(ge=1, le=366)]
Renewals = Annotated[int, Field(ge=0, le=50)]
Quantity = Annotated[int, Field(ge=0, le=1_000_000)]
Version = Annotated[int | None, Field(default=None, ge=1, le=2**31 - 1)]
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]  # a row's id, as a field


class RecordFields(BaseModel):
    """Base of every record's create and update model: no unknown field, no control
    character in any text."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_chars(cls, value: Any) -> Any:
        return refuse_control_chars(value) if isinstance(value, str) else value


class TaggedFields(RecordFields):
    """What an item and a supply shelf both are: a label's tag, two names, a category, a
    hut."""

    tag: Tag
    name_zh: Name
    name_en: Name
    category: CategoryKey
    hut: HutId


class RecordUpdate(RecordFields):
    """An edit: only the fields sent change (``null`` clears an optional one, and is
    refused for one in ``required``); ``version`` is the one read (or send If-Match)."""

    required: ClassVar[frozenset[str]] = frozenset()

    version: Version = None

    @field_validator("*", mode="after")
    @classmethod
    def _not_cleared(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.required:
            raise ValueError(TEXT_REQUIRED)
        return value

    def changes(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.model_fields_set if key != "version"}


def field_errors(exc: ValidationError, *, line: int | None = None) -> list[FieldError]:
    """Pydantic's errors as FieldErrors, named by their top field."""
    errors = []
    for error in exc.errors(include_url=False, include_input=False):
        field = str(error["loc"][0]) if error["loc"] else "row"
        errors.append(FieldError(field, error["msg"].removeprefix("Value error, "), line))
    return errors


def validated(model: type[M], values: Mapping[str, Any], *, line: int | None = None) -> M:
    """``model`` of ``values``, or InvalidFieldsError naming every bad field."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise InvalidFieldsError(field_errors(exc, line=line)) from exc


def refuse(*errors: FieldError) -> None:
    """Raise InvalidFieldsError if there is any error."""
    if errors:
        raise InvalidFieldsError(list(errors))


def values_of(row: Any, keys: Iterable[str]) -> dict[str, Any]:
    """The row's ``keys`` as the audit log records them (before and after an edit)."""
    return {key: getattr(row, key) for key in keys}
