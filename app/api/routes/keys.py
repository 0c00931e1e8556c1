"""REST for API keys (admins only): list, create, revoke, rotate."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api.deps import API_PREFIX, Admin, SessionDep
from app.api.key_schemas import KeyCreate, KeyCreated, KeyPublic, KeyRotate
from app.api.keys import ApiKey, create_key, list_keys, revoke_key, rotate_key
from app.crud import get_or_404
from app.fields import MAX_ID

router = APIRouter(prefix=f"{API_PREFIX}/keys", tags=["keys"])
KeyId = Annotated[int, Path(ge=1, le=MAX_ID, description="Id of the key.")]


def public(row: ApiKey) -> KeyPublic:
    """The shown form of a stored key."""
    return KeyPublic.model_validate({**row.model_dump(), "prefix": row.lookup})


def created(row: ApiKey, plain: str) -> KeyCreated:
    """The shown form of a new key, with its plain text."""
    return KeyCreated.model_validate({**public(row).model_dump(), "key": plain})


@router.get("", response_model=list[KeyPublic])
def list_api_keys(
    session: SessionDep,
    _key: Admin,
    include_revoked: Annotated[
        bool, Query(description="Also list revoked keys (default: active ones only).")
    ] = False,
) -> list[KeyPublic]:
    """Every key (revoked ones too with `include_revoked=true`); never a secret."""
    return [public(row) for row in list_keys(session, include_revoked=include_revoked)]


@router.post("", response_model=KeyCreated, status_code=201)
def create_api_key(session: SessionDep, _key: Admin, data: KeyCreate) -> KeyCreated:
    """Make a key; the response holds it in plain text this once."""
    row, plain = create_key(session, data.name, data.role, data.expires_at)
    return created(row, plain)


@router.post("/{key_id}/revoke", response_model=KeyPublic)
def revoke_api_key(session: SessionDep, _key: Admin, key_id: KeyId) -> KeyPublic:
    """Revoke a key: it fails on every replica from its next request."""
    return public(revoke_key(session, get_or_404(session, ApiKey, key_id)))


@router.post("/{key_id}/rotate", response_model=KeyCreated, status_code=201)
def rotate_api_key(session: SessionDep, _key: Admin, key_id: KeyId, data: KeyRotate) -> KeyCreated:
    """Replace a key by a new one with the same name and role."""
    grace = timedelta(seconds=data.keep_old_for_s) if data.keep_old_for_s else None
    row, plain = rotate_key(
        session,
        get_or_404(session, ApiKey, key_id),
        keep_old_for=grace,
        expires_at=data.expires_at,
    )
    return created(row, plain)
