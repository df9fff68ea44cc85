"""Deployment-wide operator settings (one JSON value per key), e.g. the active UBM."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .rows import insert_if_missing
from .tables import DeploymentSetting, utcnow

ACTIVE_UBM = "active_ubm"  # the UBM every speaker model is adapted from (set by `speakerverify models rebuild`)
STAGED_UBM = "staged_ubm"  # trained by `speakerverify ubm train`, not yet switched to


def get_setting(session: Session, key: str) -> Any:
    row = session.get(DeploymentSetting, key)
    return None if row is None else row.value


def put_setting(session: Session, key: str, value: Any) -> None:
    row = session.get(DeploymentSetting, key, with_for_update=True)
    if row is None:
        if insert_if_missing(session, lambda: DeploymentSetting(key=key, value=value, updated_at=utcnow())):
            return
        row = session.get(DeploymentSetting, key, with_for_update=True, populate_existing=True)
        assert row is not None
    row.value = value
    session.flush()


def delete_setting(session: Session, key: str) -> None:
    row = session.get(DeploymentSetting, key)
    if row is not None:
        session.delete(row)
        session.flush()
