"""Who the audit log names for a resident's own write from their phone: ``member:<id>``
(the member's number, never their name: the log is read by staff, but a name in it would
outlive the member's erasure) with the phone's address."""

from __future__ import annotations

from fastapi import Request

from server.api.deps import client_address
from server.domain.actors import Actor
from server.residents.sessions import Resident


def resident_actor(resident: Resident, request: Request) -> Actor:
    return Actor(f"member:{resident.member_id}", address=client_address(request))
