"""A 422's messages come from the catalogues, Chinese first, with the field's limits."""

from __future__ import annotations

from pydantic import BaseModel, Field, ValidationError, field_validator

from server.api.field_messages import message


class Body(BaseModel):
    name: str = Field(max_length=5)
    count: int = Field(ge=1)

    @field_validator("name")
    @classmethod
    def no_x(cls, value: str) -> str:
        if "x" in value:
            raise ValueError("名称不能含 x / no x in the name")
        return value


def errors(data: dict[str, object]) -> dict[str, str]:
    try:
        Body.model_validate(data)
    except ValidationError as exc:
        return {str(e["loc"][0]): message(dict(e)) for e in exc.errors()}
    raise AssertionError("valid")


def test_pydantic_messages_become_the_catalogues_with_their_limits() -> None:
    assert errors({"count": 1}) == {"name": "请填写此项。 / This field is required."}
    assert errors({"name": "abcdefg", "count": 0}) == {
        "name": "太长了：最多 5 个字符。 / Too long: at most 5 characters.",
        "count": "不能小于 1。 / Must be at least 1.",
    }
    assert errors({"name": "ab", "count": "many"})["count"].startswith("请输入整数。")


def test_our_own_reasons_pass_through_without_pydantics_prefix() -> None:
    assert errors({"name": "x", "count": 1}) == {"name": "名称不能含 x / no x in the name"}


def test_an_error_type_without_a_text_keeps_its_message() -> None:
    assert message({"type": "something_new", "msg": "as pydantic says"}) == "as pydantic says"
