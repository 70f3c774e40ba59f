"""A batch's updates of rows already in the database, held by primary key and written
together: one ``UPDATE ... WHERE id = :row_id`` executemany a shape (table and columns).

The effect writer (storage/effect_writer.py) hands its batch's changes of loaded rows
(items, loans, door sessions, reservations) here rather than setting them on the ORM
objects: the attribute events, history and unit of work of a few thousand changes a batch
cost more than the statements. The values are set on the objects as committed (what the
rules read next is right at once) and wait here until:

- ``write()``: the writer's ``finish()``, which whoever commits calls, and its savepoints
  (at their start, so that a savepoint rolled back takes only its own); a commit writes
  them too (``before_commit``), should a caller forget;
- any statement the session executes meanwhile (``do_orm_execute``: every query, lookup
  and loading of an expired attribute goes through it), so that no read in the
  transaction sees a row without its held values, as the ORM's autoflush would; and any
  flush, before it writes (``before_flush``): a column the ORM changed after this held it
  is written by the flush, after this, so the later value stays;
- ``discard()``: their savepoint rolled back (the writer then expires every row); a
  rollback drops them too (``after_rollback``): a session used again after a failed
  transaction writes nothing of it (its listeners stay on it, with nothing to write).

Not seen by these hooks: statements run on the session's Connection directly (the
writer's own first-command writes, the scans, the event log's claims and outcomes: none
reads these rows), and a savepoint begun by anyone but the writer while values are held
(the ledger's savepoints are all the writer's, ``EffectWriter.savepoint``).
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Any

from sqlalchemy import Table, Update, bindparam, event, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_dict


@cache
def update_of(table: Table, names: tuple[str, ...]) -> Update:
    """``UPDATE table SET name = :new_name, ... WHERE id = :row_id``, built once a shape."""
    values: dict[str, Any] = {name: bindparam(f"new_{name}") for name in names}
    return update(table).where(table.c.id == bindparam("row_id")).values(values)


def params_of(row_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """The parameters of ``update_of`` for one row."""
    return {"row_id": row_id, **{f"new_{name}": value for name, value in values.items()}}


class RowUpdates:
    """See the module docstring. One a writer; ``db`` is its session."""

    def __init__(self, db: Session) -> None:
        self.db = db
        # (table, id) -> (the row, held strongly: the identity map is weak; its values)
        self._held: dict[tuple[Table, int], tuple[Any, dict[str, Any]]] = {}
        self._listening = False

    def set(self, row: Any, row_id: int, values: dict[str, Any]) -> None:
        """Hold ``values`` (attribute: value, columns of the row's own table) for the row
        ``row_id`` of ``row``'s table, and set them on ``row`` as committed. ``row`` is
        persistent and unmodified, and the values' attributes are loaded (the writer read
        them): its own dict then is all there is to set (``set_committed_value``'s
        bookkeeping, none of which applies, cost as much again)."""
        key = (row.__table__, row_id)
        held = self._held.get(key)
        if held is None:
            self._held[key] = (row, dict(values))
        else:
            held[1].update(values)
        instance_dict(row).update(values)
        if not self._listening:
            for name in _BEFORE:
                event.listen(self.db, name, self._before)
            event.listen(self.db, "after_rollback", self._rolled_back)
            self._listening = True

    def write(self) -> None:
        """Write the held values now, one executemany a shape."""
        self._stop_listening()
        self._write()

    def discard(self) -> None:
        """Drop the held values (their savepoint or transaction rolled back)."""
        self._stop_listening()
        self._held = {}

    # Still listening in these two: removing a listener while it runs is not allowed.

    def _before(self, *_args: Any) -> None:
        self._write()

    def _rolled_back(self, *_args: Any) -> None:
        self._held = {}

    def _write(self) -> None:
        held, self._held = self._held, {}
        if not held:
            return
        shapes: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = defaultdict(list)
        for (table, row_id), (_row, values) in held.items():
            shapes[(table, tuple(sorted(values)))].append(params_of(row_id, values))
        connection = self.db.connection()
        for (table, names), params in shapes.items():
            connection.execute(update_of(table, names), params[0] if len(params) == 1 else params)

    def _stop_listening(self) -> None:
        if self._listening:
            for name in _BEFORE:
                event.remove(self.db, name, self._before)
            event.remove(self.db, "after_rollback", self._rolled_back)
            self._listening = False


# The session's events before it reads or writes anything, or commits.
_BEFORE = ("before_flush", "do_orm_execute", "before_commit")


__all__ = ["RowUpdates", "params_of", "update_of"]
