"""queries.get_huts: one hut by its key, several in one query; unknown ids left out."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from server.seed import seed_demo
from server.storage import queries


def test_get_huts_finds_the_known_and_leaves_out_the_unknown(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as db:
        seed_demo(db, hut_id="hut-a")
        seed_demo(db, hut_id="hut-b")
    with sessions() as db:
        assert queries.get_huts(db, []) == {}
        assert list(queries.get_huts(db, ["hut-a", "hut-a"])) == ["hut-a"]
        assert queries.get_huts(db, ["ghost"]) == {}
        both = queries.get_huts(db, iter(["hut-b", "ghost", "hut-a"]))
        assert sorted(both) == ["hut-a", "hut-b"]
        assert all(both[hut].id == hut for hut in both)
