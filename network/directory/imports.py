"""CSV import in the browser: staging uploads between preview and confirm, the preview, and the audited import."""
from __future__ import annotations

import io
import json
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from network import clock
from network.audit import record
from network.directory.csvio import (
    CsvTable,
    ImportReport,
    PartnerRow,
    SupportsGeocode,
    create_partners,
    line_of,
    read_table,
    row_problem,
    validate_rows,
)
from network.directory.models import Partner, partner_snapshot
from network.geo.distance import great_circle_km
from network.geo.gazetteer import normalize
from network.problems import Invalid, Problem

# A staged file lives this long; after that the user uploads again (and personal data in it does not linger).
STAGE_LIFETIME = timedelta(hours=2)
DUPLICATE_DISTANCE_KM = 2.0
_RELOAD_BATCH = 500
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")


# --- staging --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StagedImport:
    """An uploaded file waiting for the preview and the confirmation of the user who uploaded it."""

    token: str
    user_id: int
    filename: str
    created_at: datetime
    size: int
    path: Path

    def read(self) -> bytes:
        return self.path.read_bytes()

    def expires_at(self) -> datetime:
        return self.created_at + STAGE_LIFETIME


class ImportStage:
    """A folder (normally <instance>/imports) holding uploaded files as <token>.csv plus <token>.json."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def _paths(self, token: str) -> tuple[Path, Path]:
        return self.directory / f"{token}.csv", self.directory / f"{token}.json"

    def put(self, data: bytes, *, user_id: int, filename: str, now: datetime | None = None) -> StagedImport:
        """Store an upload under a fresh random token; expired uploads of anyone are removed on the way."""
        now = now or clock.now()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.purge_expired(now)
        token = secrets.token_urlsafe(24)
        data_path, meta_path = self._paths(token)
        # 0o600: the file may hold personal data (names, e-mail addresses, phone numbers).
        fd = os.open(data_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        meta = {"user_id": user_id, "filename": filename[:200], "created_at": now.isoformat(), "size": len(data)}
        fd = os.open(meta_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(meta, fh)
        return StagedImport(token=token, user_id=user_id, filename=meta["filename"], created_at=now,
                            size=len(data), path=data_path)

    def get(self, token: str, *, user_id: int, now: datetime | None = None) -> StagedImport | None:
        """The staged upload if it exists, belongs to user_id and has not expired; else None."""
        if not _TOKEN.fullmatch(token or ""):
            return None  # also keeps "../" and friends out of the path
        data_path, meta_path = self._paths(token)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            created_at = datetime.fromisoformat(meta["created_at"])
        except (OSError, ValueError, KeyError):
            return None
        if meta.get("user_id") != user_id or not data_path.exists():
            return None
        staged = StagedImport(token=token, user_id=user_id, filename=str(meta.get("filename", "")),
                              created_at=created_at, size=int(meta.get("size", 0)), path=data_path)
        if (now or clock.now()) > staged.expires_at():
            self.discard(token)
            return None
        return staged

    def claim(self, staged: StagedImport) -> Path | None:
        """Take the file for importing (atomic rename), so that a double click cannot import it twice."""
        claimed = staged.path.with_suffix(".importing")
        try:
            os.rename(staged.path, claimed)
        except OSError:
            return None
        return claimed

    def release(self, staged: StagedImport, claimed: Path) -> None:
        """Give a claimed file back (the import was refused), so the preview still works."""
        try:
            os.rename(claimed, staged.path)
        except OSError:
            pass

    def discard(self, token: str) -> None:
        if not _TOKEN.fullmatch(token or ""):
            return
        data_path, meta_path = self._paths(token)
        for path in (data_path, meta_path, data_path.with_suffix(".importing")):
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    def purge_expired(self, now: datetime | None = None) -> int:
        """Remove staged uploads older than STAGE_LIFETIME; returns how many."""
        now = now or clock.now()
        removed = 0
        if not self.directory.is_dir():
            return 0
        for meta_path in self.directory.glob("*.json"):
            try:
                created_at = datetime.fromisoformat(json.loads(meta_path.read_text(encoding="utf-8"))["created_at"])
            except (OSError, ValueError, KeyError):
                created_at = datetime.fromtimestamp(meta_path.stat().st_mtime, tz=now.tzinfo)
            if now - created_at > STAGE_LIFETIME:
                self.discard(meta_path.stem)
                removed += 1
        return removed


# --- preview --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateWarning:
    """A row that looks like an existing listing; a warning, the import may still go ahead.

    reason is a coded problem (the web layer words it): the same postcode or the distance in km,
    and which listing (param partner_id) or which line of the file (param other_line) is meant.
    """

    line: int
    name: str
    partner_id: int | None  # None: the look-alike is another row of the same file
    partner_name: str
    reason: Problem


@dataclass
class ImportPreview:
    """What an import of the file would do: every error, the duplicate warnings and the rows that are fine."""

    total: int = 0
    rows: list[PartnerRow] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    duplicates: list[DuplicateWarning] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)

    @property
    def ok_rows(self) -> int:
        return len(self.rows)

    @property
    def error_lines(self) -> int:
        return len({line_of(error) for error in self.errors})


def _permission_errors(rows: Sequence[PartnerRow], actor) -> list[Problem]:
    if actor is None:
        return []
    return [row_problem(row.line, "region", "region.not_allowed", region=row.region.name)
            for row in rows if not actor.can_create_partner_in(row.region.id)]


def find_duplicates(session: Session, rows: Sequence[PartnerRow],
                    max_distance_km: float = DUPLICATE_DISTANCE_KM) -> list[DuplicateWarning]:
    """Rows whose normalised name matches a listing that is not archived, with the same postcode or nearby."""
    by_name: dict[str, list[Any]] = {}
    stmt = select(Partner.id, Partner.name, Partner.postcode, Partner.latitude, Partner.longitude).where(
        Partner.is_archived.is_(False))
    for existing in session.execute(stmt):
        by_name.setdefault(normalize(existing.name), []).append(existing)
    warnings: list[DuplicateWarning] = []
    earlier_rows: dict[str, list[PartnerRow]] = {}
    for row in rows:
        key = normalize(row.name)
        for existing in by_name.get(key, ()):
            reason = _same_place(row, existing.postcode, existing.latitude, existing.longitude,
                                 {"partner_id": existing.id}, max_distance_km)
            if reason:
                warnings.append(DuplicateWarning(line=row.line, name=row.name, partner_id=existing.id,
                                                 partner_name=existing.name, reason=reason))
        # Within the file: exact repeats are errors already (validate_rows); the same name with
        # another street nearby is probably the same listing typed twice.
        for other in earlier_rows.get(key, ()):
            reason = _same_place(row, other.postcode, other.latitude, other.longitude, {"other_line": other.line},
                                 max_distance_km)
            if reason:
                warnings.append(DuplicateWarning(line=row.line, name=row.name, partner_id=None,
                                                 partner_name=other.name, reason=reason))
        earlier_rows.setdefault(key, []).append(row)
    return warnings


def _same_place(row: PartnerRow, postcode: str, lat: float | None, lon: float | None, what: dict[str, int],
                max_distance_km: float) -> Problem | None:
    # what: {"partner_id": n} for an existing listing, {"other_line": n} for an earlier row of the file.
    listing = "partner_id" in what
    if row.postcode and row.postcode == postcode:
        return Problem("name", "duplicate.same_postcode_listing" if listing else "duplicate.same_postcode_line",
                       {"postcode": row.postcode, **what})
    if None in (row.latitude, row.longitude, lat, lon):
        return None
    km = great_circle_km(row.latitude, row.longitude, lat, lon)  # type: ignore[arg-type]
    if km > max_distance_km:
        return None
    return Problem("name", "duplicate.nearby_listing" if listing else "duplicate.nearby_line",
                   {"km": round(km, 1), **what})


def _check(session: Session, table: CsvTable, geocoder: SupportsGeocode | None, actor,
           now: datetime | None) -> tuple[list[PartnerRow], list[Problem]]:
    validation = validate_rows(session, table, geocoder, now=now)
    denied = _permission_errors(validation.rows, actor)
    denied_lines = {line_of(error) for error in denied}
    rows = [row for row in validation.rows if row.line not in denied_lines]
    errors = sorted(validation.errors + denied, key=lambda e: (line_of(e), e.field or ""))
    if not table.rows:
        errors.append(row_problem(2, None, "csv.no_rows"))
    return rows, errors


def preview_import(session: Session, data: bytes, geocoder: SupportsGeocode | None, *, actor,
                   now: datetime | None = None) -> ImportPreview:
    """Check every row (as the import would, including the actor's regions) and look for duplicates; writes nothing."""
    try:
        table = read_table(io.BytesIO(data))
    except Invalid as exc:
        return ImportPreview(total=0, errors=list(exc.problems))
    rows, errors = _check(session, table, geocoder, actor, now)
    return ImportPreview(total=len(table), rows=rows, errors=errors, duplicates=find_duplicates(session, rows))


# --- import ---------------------------------------------------------------------------------------


def run_import(session: Session, data: bytes, geocoder: SupportsGeocode | None, *, actor, filename: str,
               now: datetime | None = None) -> ImportReport:
    """Import every row or none: raises Invalid (nothing added) on any error; audits each listing; flushes."""
    table = read_table(io.BytesIO(data))
    rows, errors = _check(session, table, geocoder, actor, now)
    if errors:
        raise Invalid(errors)
    report = create_partners(session, rows)
    # The insert leaves some columns expired (confirmed_at is written as an SQL NULL); reload them in
    # batches, or each snapshot below would cost one SELECT (and one autoflush) per listing.
    ids = report.partner_ids
    for start in range(0, len(ids), _RELOAD_BATCH):
        session.scalars(select(Partner).where(Partner.id.in_(ids[start:start + _RELOAD_BATCH]))).all()
    note_file = f"CSV-Import „{filename}“" if filename else "CSV-Import"
    with session.no_autoflush:
        for row, partner_id in zip(rows, ids, strict=True):
            partner = session.get(Partner, partner_id)  # from the identity map, no query
            assert partner is not None
            record(session, actor=actor, entity=partner, action="import", before=None,
                   after=partner_snapshot(partner), note=f"{note_file}, Zeile {row.line}")
    # One summary row, so the log also shows the import as a whole (who, which file, how many).
    record(session, actor=actor, entity=SimpleNamespace(id=None), action="import",
           before=None, after={"created": report.created, "organisations_created": report.organisations_created},
           note=f"{note_file}: {report.created} Einträge angelegt", entity_type="csv_import",
           entity_label=filename or "CSV-Import")
    session.flush()
    return report
