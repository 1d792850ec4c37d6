"""CSV import and export of partners: every row is checked before anything is written; exports are formula-safe."""
from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any, Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Select, null, select
from sqlalchemy.orm import Session, selectinload

from network import clock
from network.directory.models import Kind, Organisation, Partner, Region, Topic
from network.geo.gazetteer import normalize
from network.geo.geocoding import GeocodeNotFound, GeocodeResult
from network.problems import Invalid, Problem

# The file format, in this order on export. docs/csv-format.md explains every column.
COLUMNS: tuple[str, ...] = (
    "name",
    "kind",
    "organisation",
    "region",
    "topics",
    "street",
    "postcode",
    "city",
    "latitude",
    "longitude",
    "service_radius_km",
    "email",
    "phone",
    "website",
    "languages",
    "description",
    "is_person",
    "confirmed_at",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("name", "kind", "region")
TOPIC_SEPARATOR = "|"
DELIMITERS: tuple[str, ...] = (";", ",", "\t")
DEFAULT_RADIUS_KM = 50.0
MAX_RADIUS_KM = 500.0
DEFAULT_LANGUAGES = "de"
MAX_DESCRIPTION_LENGTH = 5000
# Column widths of the partners table: PostgreSQL refuses longer values, SQLite would keep them silently.
MAX_LENGTHS: dict[str, int] = {
    "name": 200, "organisation": 200, "street": 200, "postcode": 10, "city": 120,
    "email": 200, "phone": 60, "website": 300, "languages": 100, "description": MAX_DESCRIPTION_LENGTH,
}
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
# The export also escapes an existing leading apostrophe, so that the import can undo
# the neutralisation exactly and a round trip never loses or adds a character.
_ESCAPED_STARTS = FORMULA_TRIGGERS + ("'",)
# Dates on export and date-only values on import are calendar days in the network's time zone.
LOCAL_TZ = ZoneInfo("Europe/Berlin")

_TRUE = {"ja", "j", "yes", "y", "true", "wahr", "1", "x"}
_FALSE = {"nein", "n", "no", "false", "falsch", "0"}
_POSTCODE = re.compile(r"\d{5}")
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_LANGUAGE_SPLIT = re.compile(r"[\s,;|/]+")
_GERMAN_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# Kinds of partner imply what sort of organisation a new organisation name stands for.
_ORG_TYPE_BY_KIND = {
    "hochschulinstitut": "university_institute",
    "kompetenzzentrum": "kompetenzzentrum",
    "innoscheck-fachberater": "consultancy",
}

Progress = Callable[[int], None]


class SupportsGeocode(Protocol):
    """What the import needs from network.geo.geocoding.Geocoder (tests may pass any such object)."""

    def geocode(self, query: str) -> GeocodeResult: ...


def row_problem(line: int, column: str | None, code: str, /, **params: Any) -> Problem:
    """A problem in the file: the column at fault (None: the whole line or file) and, as param "line",
    the line as a spreadsheet numbers it (header = 1); a single listing (line 0) has no line."""
    return Problem(column or None, code, {"line": line, **params} if line else params)


def line_of(problem: Problem) -> int:
    """The file line a problem of read_table/validate_rows names (0 for a single listing)."""
    return int(problem.params.get("line", 0))


@dataclass(frozen=True)
class CsvTable:
    """A decoded CSV file: its delimiter, the header, and the data rows with their spreadsheet line numbers."""

    delimiter: str
    columns: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, str]], ...]

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class PartnerRow:
    """One checked row, ready to become a Partner."""

    line: int
    name: str
    kind: Kind
    organisation: str
    region: Region
    topics: list[Topic]
    street: str
    postcode: str
    city: str
    latitude: float | None
    longitude: float | None
    service_radius_km: float
    email: str
    phone: str
    website: str
    languages: str
    description: str
    is_person: bool
    confirmed_at: datetime | None
    geocoded: bool = False


@dataclass
class Validation:
    """The result of validate_rows: the good rows and every error; the import proceeds only when .ok."""

    rows: list[PartnerRow] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ImportReport:
    """What an import created."""

    created: int
    organisations_created: int
    geocoded: int
    partner_ids: list[int]


# --- reading --------------------------------------------------------------------------------------


def read_table(fileobj: IO[bytes] | IO[str]) -> CsvTable:
    """Decode (UTF-8, with or without BOM), sniff the delimiter from the header and split the rows.

    Raises Invalid for problems of the whole file: wrong encoding, missing or
    unknown columns, no header.
    """
    text = _decode(fileobj.read())
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise Invalid(row_problem(reader.line_num, None, "csv.malformed", detail=str(exc))) from None
    if not records or not any(cell.strip() for cell in records[0]):
        raise Invalid(row_problem(1, None, "csv.empty"))
    columns = tuple(cell.strip().lower() for cell in records[0])
    _check_header(columns)
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[Problem] = []
    # Spreadsheet numbering: one record is one line, even when a quoted cell holds line breaks.
    for line, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue  # empty lines and ";;;;" trailers that spreadsheets leave behind
        # Cells beyond the header or under an empty heading have no column to go to.
        stray = [i for i, cell in enumerate(record) if cell.strip() and (i >= len(columns) or not columns[i])]
        if stray:
            errors.append(row_problem(line, None, "csv.stray_cell", column=stray[0] + 1))
            continue
        rows.append((line, {col: (record[i] if i < len(record) else "") for i, col in enumerate(columns) if col}))
    if errors:
        raise Invalid(errors)
    return CsvTable(delimiter=delimiter, columns=columns, rows=tuple(rows))


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Invalid(row_problem(1, None, "csv.utf16"))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise Invalid(row_problem(line, None, "csv.not_utf8")) from None


def _sniff_delimiter(text: str) -> str:
    # The header alone decides: column names contain none of the candidates,
    # whereas data cells (descriptions, decimal commas) may contain any of them.
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _check_header(columns: tuple[str, ...]) -> None:
    errors: list[Problem] = []
    seen: set[str] = set()
    for col in columns:
        if not col:
            continue  # spreadsheets add empty headings after the last column; their cells are checked per row
        if col not in COLUMNS:
            errors.append(row_problem(1, col, "column.unknown", column=col, allowed=", ".join(COLUMNS)))
        elif col in seen:
            errors.append(row_problem(1, col, "column.duplicate", column=col))
        seen.add(col)
    for col in REQUIRED_COLUMNS:
        if col not in columns:
            errors.append(row_problem(1, col, "column.missing", column=col))
    if errors:
        raise Invalid(errors)


# --- validation -----------------------------------------------------------------------------------


class _Lookups:
    """Kinds, regions and topics by every accepted spelling (slug, German or English name, umlauts folded)."""

    def __init__(self, session: Session) -> None:
        self.kinds: dict[str, Kind] = {}
        for kind in session.scalars(select(Kind)):
            for key in (kind.slug, kind.name_de, kind.name_en):
                self.kinds.setdefault(normalize(key), kind)
        self.regions: dict[str, Region] = {}
        for region in session.scalars(select(Region)):
            for key in (region.slug, region.name):
                self.regions.setdefault(normalize(key), region)
        self.topics: dict[str, Topic] = {}
        for topic in session.scalars(select(Topic)):
            for key in (topic.slug, topic.name_de, topic.name_en):
                self.topics.setdefault(normalize(key), topic)


class _RowChecker:
    """Collects the errors of one row, field by field."""

    def __init__(self, line: int, values: dict[str, str]) -> None:
        self.line = line
        self.values = values
        self.errors: list[Problem] = []
        self._texts: dict[str, str] = {}

    def error(self, column: str, code: str, /, **params: Any) -> None:
        self.errors.append(row_problem(self.line, column, code, **params))

    def text(self, column: str) -> str:
        """The cell, trimmed and with the export's formula neutralisation undone; checked once per column."""
        if column in self._texts:
            return self._texts[column]
        value = _unneutralise(self.values.get(column, "") or "").strip()
        limit = MAX_LENGTHS.get(column)
        if "\x00" in value:
            self.error(column, "value.control_character")
            value = ""
        elif limit is not None and len(value) > limit:
            self.error(column, "value.too_long", length=len(value), max=limit)
        self._texts[column] = value
        return value

    def number(self, column: str) -> float | None:
        raw = self.text(column)
        if not raw:
            return None
        try:
            value = float(raw.replace(",", ".").replace(" ", ""))
        except ValueError:
            self.error(column, "number.invalid", value=raw)
            return None
        if not math.isfinite(value):
            self.error(column, "number.not_finite", value=raw)
            return None
        return value


def validate_rows(
    session: Session,
    source: CsvTable | IO[bytes] | IO[str],
    geocoder: SupportsGeocode | None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> Validation:
    """Check every row and geocode those without coordinates; return the good rows and all errors.

    Nothing is written. Each error names the column, the code and, as param "line",
    the line (header = line 1). `progress(n_done)` is called after each row.
    """
    table = source if isinstance(source, CsvTable) else read_table(source)
    now = now or clock.now()
    lookups = _Lookups(session)
    result = Validation()
    seen: dict[tuple[str, ...], int] = {}
    geocode_memo: dict[str, GeocodeResult | GeocodeNotFound] = {}
    for done, (line, values) in enumerate(table.rows, start=1):
        checker = _RowChecker(line, values)
        row = _check_row(checker, lookups, now)
        if row is not None:
            key = (normalize(row.name), row.kind.slug, normalize(row.organisation),
                   normalize(row.street), row.postcode, normalize(row.city))
            if key in seen:
                checker.error("name", "row.duplicate", other=seen[key])
            else:
                seen[key] = line
            if row.latitude is None and not checker.errors:
                _geocode_row(checker, row, geocoder, geocode_memo)
        if checker.errors:
            result.errors.extend(checker.errors)
        elif row is not None:
            result.rows.append(row)
        if progress is not None:
            progress(done)
    return result


def _check_row(c: _RowChecker, lookups: _Lookups, now: datetime) -> PartnerRow | None:
    name = c.text("name")
    if not name:
        c.error("name", "name.missing")

    kind = None
    raw_kind = c.text("kind")
    if not raw_kind:
        c.error("kind", "kind.missing")
    else:
        kind = lookups.kinds.get(normalize(raw_kind))
        if kind is None:
            c.error("kind", "kind.unknown", value=raw_kind)

    region = None
    raw_region = c.text("region")
    if not raw_region:
        c.error("region", "region.missing")
    else:
        region = lookups.regions.get(normalize(raw_region))
        if region is None:
            c.error("region", "region.unknown", value=raw_region)

    topics: list[Topic] = []
    for raw_topic in c.text("topics").split(TOPIC_SEPARATOR):
        raw_topic = raw_topic.strip()
        if not raw_topic:
            continue
        topic = lookups.topics.get(normalize(raw_topic))
        if topic is None:
            c.error("topics", "topic.unknown", value=raw_topic)
        elif topic not in topics:
            topics.append(topic)

    organisation = c.text("organisation")
    street = c.text("street")
    postcode = c.text("postcode")
    if postcode and not _POSTCODE.fullmatch(postcode):
        c.error("postcode", "postcode.invalid", value=postcode)
    city = c.text("city")

    latitude, longitude = _check_coordinates(c)
    if latitude is None and not (postcode or city):
        c.error("city", "place.missing")

    radius = c.number("service_radius_km")
    if radius is None:
        if not c.text("service_radius_km"):
            radius = DEFAULT_RADIUS_KM
    elif not 0 < radius <= MAX_RADIUS_KM:
        c.error("service_radius_km", "service_radius_km.out_of_range", max=f"{MAX_RADIUS_KM:g}")

    email = c.text("email")
    if email:
        try:
            validate_email(email, check_deliverability=False)
        except EmailNotValidError:
            c.error("email", "email.invalid", email=email)

    website = _check_website(c)
    languages = _check_languages(c)
    phone = c.text("phone")
    description = c.text("description")
    is_person = _check_bool(c, "is_person", default=True)
    confirmed_at = _check_confirmed_at(c, now)

    if c.errors or kind is None or region is None or radius is None:
        return None
    return PartnerRow(
        line=c.line, name=name, kind=kind, organisation=organisation, region=region, topics=topics,
        street=street, postcode=postcode, city=city, latitude=latitude, longitude=longitude,
        service_radius_km=radius, email=email, phone=phone, website=website, languages=languages,
        description=description, is_person=is_person, confirmed_at=confirmed_at,
    )


def _check_coordinates(c: _RowChecker) -> tuple[float | None, float | None]:
    lat = c.number("latitude")
    lon = c.number("longitude")
    has_lat, has_lon = bool(c.text("latitude")), bool(c.text("longitude"))
    if has_lat != has_lon:
        missing = "longitude" if has_lat else "latitude"
        c.error(missing, "coordinates.incomplete")
        return None, None
    if lat is None or lon is None:
        return None, None
    ok = True
    if not -90 <= lat <= 90:
        c.error("latitude", "latitude.out_of_range", value=f"{lat:g}")
        ok = False
    if not -180 <= lon <= 180:
        c.error("longitude", "longitude.out_of_range", value=f"{lon:g}")
        ok = False
    # Swapped columns put a German address into the Indian Ocean; the numbers give it away.
    if ok and 5 <= lat <= 16 and 47 <= lon <= 56:
        c.error("latitude", "coordinates.swapped")
        ok = False
    return (lat, lon) if ok else (None, None)


def _check_website(c: _RowChecker) -> str:
    website = c.text("website")
    if not website:
        return ""
    scheme = _SCHEME.match(website)
    # "www.example.org" (or "www.example.org:8080") is how people write it; links need the scheme.
    # A dot before the first colon means host name, not scheme, so javascript: or data: are still caught.
    if scheme is None or "." in scheme.group():
        website = "https://" + website
    parts = urlsplit(website)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or " " in website:
        c.error("website", "website.invalid", value=c.text("website"))
        return ""
    if len(website) > MAX_LENGTHS["website"] and len(c.text("website")) <= MAX_LENGTHS["website"]:
        c.error("website", "website.too_long", max=MAX_LENGTHS["website"])
    return website


def _check_languages(c: _RowChecker) -> str:
    raw = c.text("languages")
    codes: list[str] = []
    for code in _LANGUAGE_SPLIT.split(raw.lower()):
        if not code:
            continue
        if not _LANGUAGE.fullmatch(code):
            c.error("languages", "languages.invalid", value=code)
        elif code not in codes:
            codes.append(code)
    return ",".join(codes) or DEFAULT_LANGUAGES


def _check_bool(c: _RowChecker, column: str, default: bool) -> bool:
    raw = c.text(column).lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    c.error(column, "boolean.invalid", value=raw)
    return default


def _check_confirmed_at(c: _RowChecker, now: datetime) -> datetime | None:
    raw = c.text("confirmed_at")
    if not raw:
        return None
    value = _parse_instant(raw)
    if value is None:
        c.error("confirmed_at", "date.invalid", value=raw)
        return None
    # A day of slack: a date typed in Berlin just after midnight is "tomorrow" in UTC.
    if value > now + timedelta(days=1):
        c.error("confirmed_at", "date.in_future", value=raw)
        return None
    return value


def _parse_instant(raw: str) -> datetime | None:
    match = _GERMAN_DATE.fullmatch(raw)
    try:
        if match:
            day = date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        elif len(raw) == 10:
            day = date.fromisoformat(raw)
        else:
            moment = datetime.fromisoformat(raw)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=LOCAL_TZ)
            return moment.astimezone(UTC)
    except ValueError:
        return None
    # Midnight in Berlin, so that the export shows the same calendar day again.
    return datetime.combine(day, time(0, 0), tzinfo=LOCAL_TZ).astimezone(UTC)


def _geocode_row(c: _RowChecker, row: PartnerRow, geocoder: SupportsGeocode | None,
                 memo: dict[str, GeocodeResult | GeocodeNotFound]) -> None:
    place = " ".join(part for part in (row.postcode, row.city) if part)
    query = ", ".join(part for part in (row.street, place) if part)
    column = "postcode" if row.postcode else "city"
    if geocoder is None:
        c.error(column, "geocoder.missing")
        return
    # Many listings share a place (one agency, many coaches): ask once per address.
    answer = memo.get(query)
    if answer is None:
        try:
            answer = geocoder.geocode(query)
        except GeocodeNotFound as exc:
            answer = exc
        memo[query] = answer
    if isinstance(answer, GeocodeNotFound):
        if answer.suggestions:
            c.error(column, "place.not_found_suggestions", query=query, suggestions=", ".join(answer.suggestions[:3]))
        else:
            c.error(column, "place.not_found", query=query)
        return
    row.latitude, row.longitude, row.geocoded = answer.lat, answer.lon, True


# --- import ---------------------------------------------------------------------------------------


def import_partners(
    session: Session,
    source: CsvTable | IO[bytes] | IO[str],
    geocoder: SupportsGeocode | None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Validate every row, then create organisations and partners; flush only, the caller commits.

    On any error nothing is added to the session and Invalid carries every
    problem. `progress(n_done)` counts rows as they are checked and geocoded, the slow part.
    """
    validation = validate_rows(session, source, geocoder, progress=progress, now=now)
    if not validation.ok:
        raise Invalid(validation.errors)
    return create_partners(session, validation.rows)


def create_partners(session: Session, rows: Iterable[PartnerRow]) -> ImportReport:
    """Create partners from checked rows (and organisations by name as needed); flush only."""
    organisations = {normalize(org.name): org for org in session.scalars(select(Organisation))}
    new_orgs = 0
    partners: list[Partner] = []
    geocoded = 0
    for row in rows:
        org = None
        if row.organisation:
            # Same name up to case and umlaut spelling: the same organisation, no near-duplicate.
            key = normalize(row.organisation)
            org = organisations.get(key)
            if org is None:
                org = Organisation(name=row.organisation, org_type=_ORG_TYPE_BY_KIND.get(row.kind.slug, "agency"))
                session.add(org)
                organisations[key] = org
                new_orgs += 1
        assert row.latitude is not None and row.longitude is not None  # validate_rows filled them
        partner = Partner(
            name=row.name, is_person=row.is_person, kind=row.kind, region=row.region, organisation=org,
            description=row.description, street=row.street, postcode=row.postcode, city=row.city,
            latitude=row.latitude, longitude=row.longitude, service_radius_km=row.service_radius_km,
            email=row.email, phone=row.phone, website=row.website, languages=row.languages,
            is_demo=False,
            # null(), not None: the ORM leaves a None column out of the INSERT, and the
            # column default would then claim a confirmation nobody gave.
            confirmed_at=row.confirmed_at if row.confirmed_at is not None else null(),
        )
        partner.topics = list(row.topics)
        partner.refresh_search_fields()
        partners.append(partner)
        geocoded += row.geocoded
    session.add_all(partners)
    session.flush()
    return ImportReport(created=len(partners), organisations_created=new_orgs, geocoded=geocoded,
                        partner_ids=[p.id for p in partners])


# --- export ---------------------------------------------------------------------------------------


def neutralise(value: str) -> str:
    """Prefix a cell that a spreadsheet would run as a formula (and one already starting with ') with '."""
    return "'" + value if value.startswith(_ESCAPED_STARTS) else value


def _unneutralise(value: str) -> str:
    return value[1:] if len(value) > 1 and value[0] == "'" and value[1:].startswith(_ESCAPED_STARTS) else value


def export_partners(
    session: Session,
    fileobj: IO[bytes] | IO[str],
    partners: Iterable[Partner] | Select[Any] | None = None,
    *,
    delimiter: str = ";",
) -> int:
    """Write partners as CSV in the import format and return how many rows were written.

    UTF-8 with BOM (Excel recognises the umlauts). The delimiter ";" goes with
    decimal commas, as German Excel expects; "," writes decimal points. Without
    `partners`, every partner that is not archived is written, ordered by id.
    """
    if delimiter not in (";", ","):
        raise ValueError("delimiter must be ';' or ','")
    if partners is None:
        partners = (select(Partner).where(Partner.is_archived.is_(False)).order_by(Partner.id))
    if isinstance(partners, Select):
        partners = session.scalars(partners.options(
            selectinload(Partner.kind), selectinload(Partner.region),
            selectinload(Partner.organisation), selectinload(Partner.topics),
        ))
    decimal_comma = delimiter == ";"
    count = 0
    with _TextStream(fileobj) as out:
        out.write("\ufeff")
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for partner in partners:
            writer.writerow([neutralise(cell) for cell in _cells(partner, decimal_comma)])
            count += 1
    return count


def _cells(partner: Partner, decimal_comma: bool) -> list[str]:
    def num(value: float) -> str:
        text = repr(float(value))
        text = text[:-2] if text.endswith(".0") else text
        return text.replace(".", ",") if decimal_comma else text

    confirmed = ""
    if partner.confirmed_at is not None:
        confirmed = partner.confirmed_at.astimezone(LOCAL_TZ).date().isoformat()
    return [
        partner.name,
        partner.kind.slug,
        partner.organisation.name if partner.organisation else "",
        partner.region.slug,
        TOPIC_SEPARATOR.join(topic.slug for topic in partner.topics),
        partner.street,
        partner.postcode,
        partner.city,
        num(partner.latitude),
        num(partner.longitude),
        num(partner.service_radius_km),
        partner.email,
        partner.phone,
        partner.website,
        partner.languages,
        partner.description or "",
        "ja" if partner.is_person else "nein",
        confirmed,
    ]


class _TextStream:
    """Context manager giving a text stream over a text or binary file, leaving the file open afterwards."""

    def __init__(self, fileobj: IO[bytes] | IO[str]) -> None:
        self.fileobj = fileobj
        self.wrapper: io.TextIOWrapper | None = None

    def __enter__(self) -> IO[str]:
        if isinstance(self.fileobj, io.TextIOBase):
            return self.fileobj  # type: ignore[return-value]
        binary: Any = self.fileobj
        self.wrapper = io.TextIOWrapper(binary, encoding="utf-8", newline="", write_through=True)
        return self.wrapper

    def __exit__(self, *exc: object) -> None:
        if self.wrapper is not None:
            self.wrapper.flush()
            # Detach so that closing the wrapper (or its garbage collection) does not close the caller's file.
            self.wrapper.detach()
        else:
            self.fileobj.flush()



# --- single listings (forms and API share the CSV rules) ------------------------------------------


def partner_values(partner: Partner) -> dict[str, str]:
    """A partner as the string values of the CSV columns (decimal points), e.g. to prefill a form."""
    return dict(zip(COLUMNS, _cells(partner, decimal_comma=False), strict=True))


def check_listing(
    session: Session,
    values: dict[str, str],
    geocoder: SupportsGeocode | None,
    now: datetime | None = None,
) -> tuple[PartnerRow | None, list[Problem]]:
    """Check one listing given as column values, geocoding it when coordinates are missing.

    The same rules as a CSV row, so a form, the API and an import never disagree.
    Problems name the column as field (and no line).
    """
    checker = _RowChecker(0, {key: ("" if value is None else str(value)) for key, value in values.items()})
    row = _check_row(checker, _Lookups(session), now or clock.now())
    if row is not None and row.latitude is None and not checker.errors:
        _geocode_row(checker, row, geocoder, {})
    if checker.errors:
        return None, checker.errors
    return row, []
