"""DSGVO for accounts: the listing's accounts are erased with it; other tokens lose names that mention the person."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from network.accounts.models import ApiToken
from network.privacy import ERASED_EMAIL, ErasureTarget, register_eraser, register_exporter, row_data


@register_eraser("users")
def _erase_accounts(session: Session, target: ErasureTarget) -> int:
    for user in target.users:
        user.email = ERASED_EMAIL.format(id=user.id)
        user.name = ""
        user.is_enabled = False
        # An empty hash never matches a password (User.check_password), and no reset token fits it.
        user.password_hash = ""
        for token in user.tokens:
            token.revoked_at = token.revoked_at or target.now
            token.name = ""
    return len(target.users)


@register_eraser("api_tokens")
def _erase_token_names(session: Session, target: ErasureTarget) -> int:
    # Tokens of the linked accounts are handled with the accounts; elsewhere only names that mention the person.
    changed = 0
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id.notin_(target.user_ids or {-1}))):
        new = target.scrub(token.name)
        if new != token.name:
            token.name, changed = new[:100], changed + 1
    return changed


@register_exporter("accounts")
def _export_accounts(session: Session, target: ErasureTarget) -> list[dict[str, Any]]:
    result = []
    for user in target.users:
        data = row_data(user, exclude=("password_hash",))
        data["regions"] = sorted(region.slug for region in user.regions)
        data["api_tokens"] = [row_data(token, exclude=("token_hash",)) for token in user.tokens]
        result.append(data)
    return result
