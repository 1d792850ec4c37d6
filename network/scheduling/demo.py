"""Demo calendar for `flask seed-demo`: working hours, home bases, absences and visits for the demo coaches and scouts.

Everything is invented (firms, people, addresses; contacts use example.org), deterministic
(a fixed seed per listing) and relative to `now`. Visits are placed only where the
scheduler's own rules (slots.free_slots: working hours, absences, notice, horizon, no
overlap, travel time) offer a slot. Re-running adds nothing to a listing that already
has working hours, absences or visits.
"""
from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from network.directory.models import Kind, Partner
from network.geo.distance import great_circle_km
from network.scheduling.booking import FirmDetails, Settings, ensure_profile, token_hash
from network.scheduling.localtime import BERLIN, to_local
from network.scheduling.models import ACTIVE_STATES, Absence, SchedulingProfile, Visit, WorkingHours
from network.scheduling.slots import Busy, Schedule, Slot, free_slots

SEED = "partnernetz-demo-calendar-1"
KINDS = ("innovationscoach", "technologiescout")


@dataclass(frozen=True)
class _Firm:
    name: str
    street: str
    postcode: str
    city: str
    lat: float
    lon: float

    @property
    def address(self) -> str:
        return f"{self.street}, {self.postcode} {self.city}"

    @property
    def domain(self) -> str:
        base = self.name.replace(" GmbH", "").replace(" KG", "").lower()
        for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("(", ""), (")", "")):
            base = base.replace(a, b)
        return "-".join(base.split()) + ".example.org"


# Invented firms in the Ruhr and Südwestfalen; coordinates are the postcode areas (offline gazetteer).
FIRMS: tuple[_Firm, ...] = (
    _Firm("Volmetal Kaltwalzwerk GmbH", "Am Walzwerk 8", "58095", "Hagen", 51.3606, 7.4785),
    _Firm("Wehringhauser Drahtwaren KG", "Lange Straße 112", "58089", "Hagen", 51.3801, 7.4394),
    _Firm("Lenne Stanztechnik GmbH", "Industriestraße 31", "58119", "Hagen", 51.3529, 7.5630),
    _Firm("Hafenlogistik Westfalen GmbH", "Speicherstraße 15", "44147", "Dortmund", 51.5198, 7.4378),
    _Firm("Phoenix Sensorik GmbH", "Konrad-Adenauer-Allee 4", "44139", "Dortmund", 51.4995, 7.4717),
    _Firm("Hörder Feinmechanik KG", "Am Remberg 22", "44263", "Dortmund", 51.4847, 7.4996),
    _Firm("Ruhrkeramik Bochum GmbH", "Herner Straße 260", "44787", "Bochum", 51.4803, 7.2183),
    _Firm("Campus Messtechnik GmbH", "Universitätsstraße 150", "44801", "Bochum", 51.4833, 7.2167),
    _Firm("Emscher Kunststofftechnik GmbH", "Westring 200", "44623", "Herne", 51.5426, 7.2190),
    _Firm("Wanne Elektrobau GmbH", "Hauptstraße 310", "44649", "Herne", 51.5329, 7.1611),
    _Firm("Ruhrtal Armaturen GmbH", "Ruhrdeich 40", "58452", "Witten", 51.4315, 7.3340),
    _Firm("Annener Zahnradfabrik KG", "Stockumer Straße 28", "58454", "Witten", 51.4644, 7.3739),
    _Firm("Schwelmer Federnwerk GmbH", "Ruhrstraße 55", "58332", "Schwelm", 51.2863, 7.2939),
    _Firm("Ennepe Schmiedetechnik GmbH", "Hagener Straße 120", "58285", "Gevelsberg", 51.3197, 7.3392),
    _Firm("Voerder Schließsysteme GmbH", "Loher Straße 5", "58256", "Ennepetal", 51.2985, 7.3629),
    _Firm("Henrichs Hütten-Service GmbH", "Werksstraße 31", "45525", "Hattingen", 51.3954, 7.1779),
    _Firm("Haßlinghauser Präzisionsdrehteile GmbH", "Gewerbestraße 7", "45549", "Sprockhövel", 51.3467, 7.2434),
    _Firm("Harkort Maschinenbau GmbH", "Kaiserstraße 88", "58300", "Wetter (Ruhr)", 51.3875, 7.3928),
    _Firm("Ruhrbogen Medizintechnik GmbH", "Wetterstraße 12", "58313", "Herdecke", 51.4000, 7.4358),
    _Firm("Hansestadt Holzbau Breckerfeld GmbH", "Waldstraße 3", "58339", "Breckerfeld", 51.2593, 7.4681),
    _Firm("Schwerter Oberflächentechnik GmbH", "Hagener Straße 70", "58239", "Schwerte", 51.4439, 7.5675),
    _Firm("Hellweg Verpackung GmbH", "Hansastraße 14", "59423", "Unna", 51.5302, 7.6760),
    _Firm("Lippe Recyclingtechnik GmbH", "Am Hafen 9", "44532", "Lünen", 51.6067, 7.5241),
    _Firm("Castroper Anlagenbau GmbH", "Wittener Straße 150", "44575", "Castrop-Rauxel", 51.5500, 7.3167),
    _Firm("Flughafenring Elektronik GmbH", "Nordstraße 20", "59439", "Holzwickede", 51.5000, 7.6333),
    _Firm("Iserlohner Nadelfabrik GmbH", "Baarstraße 44", "58636", "Iserlohn", 51.3800, 7.7032),
    _Firm("Felsenmeer Leuchten GmbH", "Hauptstraße 210", "58675", "Hemer", 51.3871, 7.7702),
    _Firm("Hönnetal Armaturen GmbH", "Am Honneufer 6", "58706", "Menden", 51.4408, 7.7887),
    _Firm("Lüdenscheider Kunststoffspritzguss GmbH", "Heedfelder Straße 90", "58507", "Lüdenscheid",
          51.2258, 7.6342),
    _Firm("Bergstadt Elektrotechnik KG", "Altenaer Straße 17", "58507", "Lüdenscheid", 51.2312, 7.6275),
    _Firm("Burgstadt Drahtzieherei GmbH", "Lennestraße 60", "58762", "Altena", 51.2947, 7.6734),
    _Firm("Werdohler Präzisionsstahl GmbH", "Bahnhofstraße 33", "58791", "Werdohl", 51.2601, 7.7661),
    _Firm("Oestertal Schraubenwerk GmbH", "Grünestraße 12", "58840", "Plettenberg", 51.2095, 7.8726),
    _Firm("Halveraner Beschlagtechnik GmbH", "Frankfurter Straße 140", "58553", "Halver", 51.1861, 7.4982),
    _Firm("Volmequelle Kunststoffe GmbH", "Industriestraße 2", "58566", "Kierspe", 51.1340, 7.5908),
    _Firm("Neheimer Leuchtenmanufaktur GmbH", "Möhnestraße 55", "59821", "Arnsberg", 51.3997, 8.0627),
    _Firm("Ruhrwiesen Möbelwerk GmbH", "Zur Feldmühle 11", "59755", "Arnsberg", 51.3833, 8.0833),
    _Firm("Hennesee Gusstechnik GmbH", "Zeughausstraße 9", "59872", "Meschede", 51.3502, 8.2833),
    _Firm("Briloner Holzindustrie GmbH", "Keffelker Straße 40", "59929", "Brilon", 51.3946, 8.5715),
    _Firm("Biggetal Armaturen GmbH", "In der Wüste 8", "57462", "Olpe", 51.0290, 7.8514),
    _Firm("Attendorner Automotive Components GmbH", "Ennester Weg 21", "57439", "Attendorn", 51.1264, 7.9033),
    _Firm("Lennestädter Sägewerk und Holzbau KG", "Hundemstraße 70", "57368", "Lennestadt", 51.1172, 8.0671),
    _Firm("Frettertal Metallwaren GmbH", "Am Bahnhof 4", "57413", "Finnentrop", 51.1680, 7.9730),
    _Firm("Siegerländer Walzen- und Stahlbau GmbH", "Hüttenstraße 45", "57072", "Siegen", 50.8734, 8.0104),
    _Firm("Ferndorf Blechbearbeitung GmbH", "Ziegeleistraße 9", "57223", "Kreuztal", 50.9678, 7.9885),
    _Firm("Obernau Wasseraufbereitung GmbH", "Lahnstraße 23", "57250", "Netphen", 50.8998, 8.1513),
    _Firm("Rödgener Kabeltechnik GmbH", "Industriestraße 16", "57234", "Wilnsdorf", 50.8167, 8.1000),
    _Firm("Börde Landtechnik GmbH", "Opmünder Weg 30", "59494", "Soest", 51.5756, 8.1062),
    _Firm("Werler Backwaren GmbH", "Unnaer Straße 25", "59457", "Werl", 51.5549, 7.9140),
    _Firm("Lippstädter Lichttechnik-Zulieferer GmbH", "Rixbecker Straße 80", "59555", "Lippstadt", 51.6767, 8.3411),
)

AREA_CODES = {
    "Hagen": "2331", "Dortmund": "231", "Bochum": "234", "Herne": "2323", "Witten": "2302", "Schwelm": "2336",
    "Gevelsberg": "2332", "Ennepetal": "2333", "Hattingen": "2324", "Sprockhövel": "2339", "Wetter (Ruhr)": "2335",
    "Herdecke": "2330", "Breckerfeld": "2338", "Schwerte": "2304", "Unna": "2303", "Lünen": "2306",
    "Castrop-Rauxel": "2305", "Holzwickede": "2301", "Iserlohn": "2371", "Hemer": "2372", "Menden": "2373",
    "Lüdenscheid": "2351", "Altena": "2352", "Werdohl": "2392", "Plettenberg": "2391", "Halver": "2353",
    "Kierspe": "2359", "Arnsberg": "2932", "Meschede": "291", "Brilon": "2961", "Olpe": "2761", "Attendorn": "2722",
    "Lennestadt": "2723", "Finnentrop": "2721", "Siegen": "271", "Kreuztal": "2732", "Netphen": "2738",
    "Wilnsdorf": "2739", "Soest": "2921", "Werl": "2922", "Lippstadt": "2941",
}

CONTACTS = (
    ("Sandra", "Becker"), ("Michael", "Schulte"), ("Ayşe", "Demir"), ("Thomas", "Klein"), ("Anja", "Wolff"),
    ("Peter", "Niehaus"), ("Katharina", "Brand"), ("Oliver", "Hüsken"), ("Nicole", "Rademacher"),
    ("Jan", "Kowalski"), ("Martina", "Sauerland"), ("Dirk", "Heitkamp"), ("Svenja", "Möller"),
    ("Bernd", "Kötter"), ("Yasemin", "Arslan"), ("Ralf", "Stratmann"), ("Claudia", "Pohl"),
    ("Kai", "Vormann"), ("Heike", "Hengstenberg"), ("Lukas", "Brüggemann"),
)

# (weekdays, [(start minute, end minute), …]) per rule; the first matching weekday rule wins.
HOUR_PATTERNS: tuple[tuple[tuple[tuple[int, ...], tuple[tuple[int, int], ...]], ...], ...] = (
    (((0, 1, 2, 3, 4), ((480, 990),)),),  # Mo–Fr 08:00–16:30
    (((0, 1, 2, 3), ((480, 1020),)), ((4,), ((480, 780),))),  # Mo–Do 08:00–17:00, Fr 08:00–13:00
    (((0, 1, 2, 3, 4), ((510, 720), (765, 1020))),),  # Mo–Fr 08:30–12:00 and 12:45–17:00
    (((0, 1, 2, 3), ((450, 960),)), ((4,), ((450, 750),))),  # Mo–Do 07:30–16:00, Fr 07:30–12:30
    (((1, 2, 3, 4), ((540, 1050),)),),  # Di–Fr 09:00–17:30 (part time, Monday off)
    (((0, 1, 2, 3, 4), ((480, 960),)),),  # Mo–Fr 08:00–16:00
)

MESSAGES = {
    "prozessoptimierung": ("Wir möchten unsere Auftragsabwicklung von der Bestellung bis zur Auslieferung "
                           "durchleuchten."),
    "produktentwicklung": "Wir entwickeln ein neues Produkt und suchen Unterstützung bei Prototyp und Förderung.",
    "automatisierung-robotik": "Wir überlegen, an zwei Maschinen einen Roboter zur Bestückung einzusetzen.",
    "it-sicherheit": "Nach einem Phishing-Vorfall wollen wir unsere IT-Sicherheit grundsätzlich aufstellen.",
    "datenanalyse-ki": "Wir sammeln viele Maschinendaten und wissen nicht, wie wir sie sinnvoll auswerten.",
    "cloud-plattformen": "Unser Warenwirtschaftssystem läuft aus; wir prüfen Cloud-Lösungen.",
    "additive-fertigung": "Wir möchten Ersatzteile im 3D-Druck fertigen und brauchen eine Einschätzung.",
    "e-commerce": "Wir wollen neben dem Großhandel auch direkt an Endkunden online verkaufen.",
    "arbeit-qualifizierung": "Wie qualifizieren wir unsere Belegschaft für die Digitalisierung der Fertigung?",
    "foerdermittelberatung": "Welche Förderprogramme passen zu unserem Digitalisierungsvorhaben?",
}
NOTES_DONE = (
    "Rundgang durch die Fertigung; Potenziale bei Rüstzeiten. Nächster Schritt: Förderantrag prüfen.",
    "Gutes Gespräch mit der Geschäftsführung; Kontakt zur Hochschule vermittelt.",
    "Bestandsaufnahme IT gemacht; Angebot für Workshop folgt.",
)


def _weekly_hours(pattern) -> list[tuple[int, int, int]]:
    return [(day, start, end) for days, intervals in pattern for day in days for start, end in intervals]


def _firms_near(partner: Partner, count: int) -> list[_Firm]:
    return sorted(FIRMS, key=lambda f: (great_circle_km(partner.latitude, partner.longitude, f.lat, f.lon),
                                        f.name))[:count]


def _firm_details(rng: random.Random, firm: _Firm) -> FirmDetails:
    first, last = CONTACTS[rng.randrange(len(CONTACTS))]
    local = f"{first[0]}.{last}".lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("ş", "s")):
        local = local.replace(a, b)
    # The town's real area code, then 00…: no subscriber number starts with 0, so nobody real gets called.
    phone = f"+49 {AREA_CODES.get(firm.city, '2331')} 00{rng.randint(1000, 9999)}"
    return FirmDetails(name=firm.name, address=firm.address, contact=f"{first} {last}",
                       email=f"{local}@{firm.domain}", phone=phone, lat=firm.lat, lon=firm.lon)


def _workdays(hours: list[tuple[int, int, int]], first: date, last: date) -> list[date]:
    weekdays = {day for day, _s, _e in hours}
    days = []
    current = first
    while current <= last:
        if current.weekday() in weekdays:
            days.append(current)
        current += timedelta(days=1)
    return days


def _seed_absences(session: Session, rng: random.Random, partner: Partner, hours: list[tuple[int, int, int]],
                   today: date) -> None:
    """A week of vacation in the coming weeks, a sick day or two in the last weeks, maybe a training day."""
    monday = today - timedelta(days=today.weekday())
    vacation_start = monday + timedelta(weeks=rng.randint(2, 6))
    session.add(Absence(partner_id=partner.id, start_date=vacation_start,
                        end_date=vacation_start + timedelta(days=rng.choice((2, 4))), reason="vacation"))
    sick = rng.choice(_workdays(hours, today - timedelta(days=18), today - timedelta(days=4)))
    session.add(Absence(partner_id=partner.id, start_date=sick, end_date=sick + timedelta(days=rng.randint(0, 1)),
                        reason="sick"))
    if rng.random() < 0.6:
        training = rng.choice(_workdays(hours, monday + timedelta(weeks=1), monday + timedelta(weeks=7)))
        session.add(Absence(partner_id=partner.id, start_date=training, end_date=training, reason="other",
                            note="Fortbildung"))
    session.flush()


def _visit(rng: random.Random, partner: Partner, firm: _Firm, slot: Slot, status: str, booked_at: datetime,
           settings: Settings) -> Visit:
    topics = list(partner.topics)
    topic = topics[rng.randrange(len(topics))] if topics else None
    details = _firm_details(rng, firm)
    return Visit(
        partner_id=partner.id, status=status, requested_by="firm", sequence=0 if status == "requested" else 1,
        start_at=slot.start, end_at=slot.end, firm_name=details.name, firm_address=details.address,
        firm_lat=details.lat, firm_lon=details.lon, contact_name=details.contact, contact_email=details.email,
        contact_phone=details.phone, topic=topic,
        message=MESSAGES.get(topic.slug if topic else "", "Wir möchten Sie gern bei uns im Betrieb begrüßen."),
        manage_token_hash=token_hash(secrets.token_urlsafe(32)),
        expires_at=booked_at + settings.request_ttl if status == "requested" else None,
        created_at=booked_at, updated_at=booked_at,
    )


def _seed_visits(session: Session, rng: random.Random, partner: Partner, profile: SchedulingProfile,
                 hours: list[tuple[int, int, int]], now: datetime, settings: Settings) -> int:
    """Pick free slots with the scheduler's own rules (slots.free_slots), one visit after the other.

    The rule engine is the one every booking path uses; running it here on an in-memory
    schedule instead of through request_visit keeps `make run` fast (hundreds of visits)
    and the audit log free of demo noise. A test re-checks every seeded visit with check_visit.
    """
    today = to_local(now).date()
    absences = [(a.start_date, a.end_date) for a in session.scalars(
        select(Absence).where(Absence.partner_id == partner.id))]
    busy: list[Busy] = [Busy(v.start_at, v.end_at,
                             (v.firm_lat, v.firm_lon) if v.firm_lat is not None else None, v.id)
                        for v in session.scalars(select(Visit).where(Visit.partner_id == partner.id,
                                                                     Visit.status.in_(ACTIVE_STATES)))]
    home = (profile.home_lat, profile.home_lon) if profile.home_lat is not None else None
    firms = _firms_near(partner, 14)
    visits: list[Visit] = []

    def place_one(day: date, booked_at: datetime, status: str) -> Visit | None:
        firm = firms[rng.randrange(len(firms))]
        duration = timedelta(minutes=rng.choice((60, 60, 90, 90, 120)))
        schedule = Schedule(working_hours=hours, absences=absences, busy=busy, home=home,
                            min_notice=timedelta(hours=profile.min_notice_hours),
                            horizon=timedelta(days=profile.horizon_days))
        slots = free_slots(schedule, day, 1, duration, booked_at, (firm.lat, firm.lon), settings.rules)
        if not slots:
            return None
        slot = slots[rng.randrange(len(slots))]
        visit = _visit(rng, partner, firm, slot, status, booked_at, settings)
        busy.append(Busy(slot.start, slot.end, (firm.lat, firm.lon)))
        visits.append(visit)
        return visit

    # A few visits of the last two weeks, booked days before; about half already have an outcome.
    for day in rng.sample(_workdays(hours, today - timedelta(days=14), today - timedelta(days=1)), k=3):
        booked_at = datetime.combine(day - timedelta(days=3), time(9), tzinfo=BERLIN)
        visit = place_one(day, booked_at, "confirmed")
        if visit is not None and rng.random() < 0.5 and visit.end_at <= now:
            visit.took_place = rng.random() < 0.85
            visit.outcome_notes = NOTES_DONE[rng.randrange(len(NOTES_DONE))]
    # The coming six weeks: requests from the last few days, most of them already confirmed.
    upcoming = _workdays(hours, today + timedelta(days=2), today + timedelta(weeks=6))
    for day in sorted(rng.sample(upcoming, k=min(len(upcoming), rng.randint(9, 14)))):
        booked_at = now - timedelta(hours=rng.randint(2, 96))
        place_one(day, booked_at, "confirmed" if rng.random() < 0.6 else "requested")
    session.add_all(visits)
    return len(visits)


def seed_demo_schedule(session: Session, now: datetime, settings: Settings | None = None) -> int:
    """Give every demo coach and scout a calendar; returns the number of visits created. Flushes only.

    Idempotent per listing: working hours, absences and visits are each added only where
    the listing has none yet.
    """
    settings = settings or Settings()
    today = to_local(now).date()
    partners = list(session.scalars(
        select(Partner).join(Partner.kind).where(Kind.slug.in_(KINDS), Partner.is_demo.is_(True),
                                                 Partner.is_archived.is_(False)).order_by(Partner.id)))
    created = 0
    for partner in partners:
        # One stream per part, so that each part comes out the same whether or not the others are seeded.
        rng = random.Random(f"{SEED}:{partner.name}")
        rng_absences = random.Random(f"{SEED}:absences:{partner.name}")
        rng_visits = random.Random(f"{SEED}:visits:{partner.name}")
        had_profile = session.scalar(select(SchedulingProfile.id).where(SchedulingProfile.partner_id == partner.id))
        profile = ensure_profile(session, partner)  # home base: the listing's address
        notice = rng.choice((24, 24, 24, 48))
        if had_profile is None:
            profile.min_notice_hours = notice
        hours = [(h.weekday, h.start_minute, h.end_minute) for h in session.scalars(
            select(WorkingHours).where(WorkingHours.partner_id == partner.id))]
        if not hours:
            hours = _weekly_hours(HOUR_PATTERNS[rng.randrange(len(HOUR_PATTERNS))])
            session.add_all(WorkingHours(partner_id=partner.id, weekday=d, start_minute=s, end_minute=e)
                            for d, s, e in hours)
            session.flush()
        if not session.scalar(select(func.count(Absence.id)).where(Absence.partner_id == partner.id)):
            _seed_absences(session, rng_absences, partner, hours, today)
        if not session.scalar(select(func.count(Visit.id)).where(Visit.partner_id == partner.id)):
            created += _seed_visits(session, rng_visits, partner, profile, hours, now, settings)
    session.flush()
    return created
