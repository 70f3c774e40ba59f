"""Two staff editing one record: the second edit, made on what the first changed, is
refused with the version it would overwrite, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from server.domain.record_errors import StaleVersionError
from server.storage.models import Hut
from server.storage.versioned import update_versioned


def test_an_edit_on_the_version_read_bumps_it(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        db.add(Hut(id="vh-1", name="一号工具屋"))
    with sessions.begin() as db:
        hut = db.get(Hut, "vh-1")
        assert hut is not None and hut.version == 1
        update_versioned(db, hut, expected=1, values={"name": "幸福里一号"})
        assert hut.name == "幸福里一号" and hut.version == 2
    with sessions() as db:
        hut = db.get(Hut, "vh-1")
        assert hut is not None and (hut.name, hut.version) == ("幸福里一号", 2)


def test_the_second_of_two_edits_on_one_version_is_refused(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as db:
        db.add(Hut(id="vh-2", name="二号工具屋"))
    # Both staff read version 1; the first saves.
    with sessions.begin() as db:
        hut = db.get(Hut, "vh-2")
        assert hut is not None
        update_versioned(db, hut, expected=1, values={"name": "甲的名字"})
    with sessions() as db:
        hut = db.get(Hut, "vh-2")
        assert hut is not None
        with pytest.raises(StaleVersionError) as refused:
            update_versioned(db, hut, expected=1, values={"name": "乙的名字"})
        assert refused.value.current == 2
        db.rollback()
    with sessions() as db:
        hut = db.get(Hut, "vh-2")
        assert hut is not None and (hut.name, hut.version) == ("甲的名字", 2)
