"""Reading a resident's wish page in tests: one wish's card, by its id."""

from __future__ import annotations

import re


def wish_card(page: str, wish_id: int) -> str:
    """The HTML of the wish's own card on /me/wishes (an assertion error if it is not there)."""
    found = re.search(rf'<li class="item wish" id="wish-{wish_id}">(.*?)</li>', page, re.S)
    assert found is not None, f"wish {wish_id} is not on the page"
    return found.group(1)
