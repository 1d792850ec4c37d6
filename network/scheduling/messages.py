"""The scheduler's error labels: times, slots and booking rules, visit requests (German msgids).

Registered on import (network.scheduling imports this module); the web layer words a problem with
errors.problem_message, in the user's language.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from network.labels import register

register("error", {
    # a wall-clock time (localtime.parse_instant, local_to_utc)
    "start.missing": _l("Bitte geben Sie Datum und Uhrzeit an."),
    "start.invalid": _l("„%(value)s“ ist kein gültiger Zeitpunkt (erwartet: 2026-12-01T09:00)."),
    "start.out_of_range": _l("Das Datum liegt außerhalb des planbaren Zeitraums (%(min)s bis %(max)s)."),
    "start.nonexistent_local_time": _l("Die Uhrzeit %(time)s gibt es in Deutschland nicht (Umstellung auf "
                                       "Sommerzeit)."),
    "start.not_text": _l("Bitte geben Sie den Beginn als Text an, z. B. 2026-12-01T09:00."),
    "start.new_not_text": _l("Bitte geben Sie den neuen Beginn als Text an, z. B. 2026-12-01T09:00."),
    "start.not_chosen": _l("Bitte wählen Sie einen Termin aus der Liste."),
    "start.new_not_chosen": _l("Bitte wählen Sie einen neuen Termin aus der Liste."),
    # why a time does not fit the coach's calendar (slots.check_visit; a BookingConflict, 409)
    "slot.overlap": _l("Der Termin überschneidet sich mit einem anderen Termin."),
    "slot.travel_before": _l("Nach dem vorherigen Termin reicht die Fahrzeit bis zu diesem Ort nicht."),
    "slot.travel_after": _l("Vom Termin aus reicht die Fahrzeit zum nächsten Termin nicht."),
    "slot.travel_from_home": _l("Vom Dienstort aus ist der Ort zu dieser Uhrzeit nicht erreichbar."),
    "slot.outside_hours": _l("Der Termin liegt außerhalb der Arbeitszeiten."),
    "slot.absent": _l("An diesem Tag ist die Person abwesend."),
    "slot.too_soon": _l("Der Termin liegt zu kurzfristig (Mindestvorlauf)."),
    "slot.too_late": _l("Der Termin liegt zu weit in der Zukunft (Buchungshorizont)."),
    "slot.in_past": _l("Der Termin liegt in der Vergangenheit."),
    # a visit's details (booking)
    "duration.not_allowed": _l("Die Dauer muss %(choices)s Minuten sein."),
    "duration.not_an_integer": _l("„duration_min“ muss eine ganze Zahl sein (%(choices)s)."),
    "firm.not_an_object": _l("„firm“ muss ein Objekt mit name, address, contact, email und phone sein."),
    "firm.name_missing": _l("Bitte geben Sie den Namen der Firma an."),
    "firm.name_too_long": _l("Der Firmenname ist zu lang (höchstens %(max)s Zeichen)."),
    "firm.address_missing": _l("Bitte geben Sie die Adresse der Firma an."),
    "firm.address_too_long": _l("Die Adresse ist zu lang (höchstens %(max)s Zeichen)."),
    "firm.address_not_found": _l("Die Adresse wurde nicht gefunden."),
    "firm.address_unknown": _l("Die Adresse „%(query)s“ wurde nicht gefunden. Bitte geben Sie Straße, "
                               "Postleitzahl und Ort an."),
    "firm.address_unknown_suggestions": _l("Die Adresse „%(query)s“ wurde nicht gefunden. Bitte geben Sie "
                                           "Straße, Postleitzahl und Ort an. Meinten Sie: %(places)s?"),
    "firm.contact_missing": _l("Bitte geben Sie eine Ansprechperson an."),
    "firm.contact_too_long": _l("Der Name ist zu lang (höchstens %(max)s Zeichen)."),
    "firm.email_missing": _l("Bitte geben Sie eine E-Mail-Adresse an."),
    "firm.phone_too_long": _l("Die Telefonnummer ist zu lang (höchstens %(max)s Zeichen)."),
    "partner.archived": _l("Diesen Eintrag gibt es nicht mehr."),
    "reason.missing": _l("Bitte geben Sie einen Grund für die Absage an."),
    # the query of the slots page and of GET /api/partners/<id>/slots
    "day.invalid": _l("„%(value)s“ ist kein gültiges Datum (erwartet: 2026-12-01)."),
    "days.out_of_range": _l("„days“ muss eine ganze Zahl von 1 bis %(max)s sein."),
    "near.too_long": _l("Die Ortsangabe ist zu lang (höchstens %(max)s Zeichen)."),
    "near.not_found": _l("„%(query)s“ wurde nicht gefunden."),
    # working hours and absences (availability.py)
    "hours.too_many_intervals": _l("Höchstens %(n)d Zeiträume pro Tag."),
    "hours.start_end_missing": _l("Bitte geben Sie Beginn und Ende an."),
    "hours.not_a_time": _l("„%(value)s“ ist keine Uhrzeit (z. B. 08:30)."),
    "hours.end_before_start": _l("Das Ende (%(end)s) muss nach dem Beginn (%(start)s) liegen."),
    "hours.overlap": _l("Die Zeiten %(a)s und %(b)s überschneiden sich."),
    "notice.out_of_range": _l("Bitte eine ganze Zahl von 0 bis 720 Stunden angeben."),
    "horizon.out_of_range": _l("Bitte eine ganze Zahl von 1 bis 52 Wochen angeben."),
    "home_address.too_long": _l("Die Adresse ist zu lang (höchstens 300 Zeichen)."),
    "home_address.missing": _l("Bitte geben Sie die Adresse Ihres Dienstorts an; dort beginnen die Fahrten."),
    "home_address.not_found": _l("Die Adresse wurde nicht gefunden. Bitte mit Postleitzahl angeben."),
    "home_address.not_found_suggestions": _l("Die Adresse wurde nicht gefunden. Bitte mit Postleitzahl angeben. "
                                             "Meinten Sie: %(places)s?"),
    "absence.date_invalid": _l("Bitte geben Sie ein gültiges Datum an (z. B. 01.12.2026)."),
    "absence.end_before_start": _l("Das Ende darf nicht vor dem Beginn liegen."),
    "absence.too_long": _l("Eine Abwesenheit darf höchstens ein Jahr lang sein."),
    "absence.reason_unknown": _l("Bitte wählen Sie einen Grund aus der Liste."),
    "absence.note_too_long": _l("Die Notiz ist zu lang (höchstens 200 Zeichen)."),
    "absence.overlap": _l("Vom %(first)s bis %(last)s sind Sie bereits als abwesend eingetragen."),
})
