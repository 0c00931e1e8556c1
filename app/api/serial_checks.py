"""Refuse, at the API, machine and reader addresses naming a network serial target not allowed."""

from __future__ import annotations

from fastapi import Request

from app.errors import InvalidInput
from app.ingest.serial_targets import serial_target_problem


def check_serial_address(request: Request, is_serial: bool, address: str | None) -> None:
    """422 naming `address` when a serial device's address is a target the lab did not allow."""
    if not is_serial or address is None:
        return
    allowed = request.app.state.settings.serial_network_allow
    problem = serial_target_problem(address, allowed)
    if problem is not None:
        raise InvalidInput(
            f"address: {problem}", {"fields": [{"field": "address", "message": problem}]}
        )
