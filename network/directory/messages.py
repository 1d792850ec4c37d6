"""The directory's error labels: search parameters, listings and CSV rows, imports, moderation (German msgids).

Registered on import (network.directory imports this module); the web layer words a problem with
errors.problem_message, in the user's language. "%(field)s" is the label of the problem's field.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from network.labels import register

# The search parameters (query string of the pages and of GET /api/partners), as messages name them.
register("field", {
    "near": _l("Ort oder PLZ"),
    "lat": _l("Breitengrad"),
    "lon": _l("Längengrad"),
    "radius_km": _l("Umkreis"),
    "kind": _l("Art"),
    "topic": _l("Thema"),
    "region": _l("Region"),
    "q": _l("Suchtext"),
    "page": _l("Seite"),
    "per_page": _l("Treffer pro Seite"),
})

register("error", {
    # search parameters (params.parse_search, SearchQuery.validate)
    "search.place_not_found": _l("Ort oder PLZ nicht gefunden: %(value)s"),
    "search.not_a_number": _l("%(field)s: „%(value)s“ ist keine Zahl."),
    "search.out_of_range": _l("%(field)s: „%(value)s“ liegt außerhalb des erlaubten Bereichs."),
    "search.unknown_value": _l("%(field)s: „%(value)s“ ist unbekannt."),
    "search.missing_pair": _l("Breitengrad und Längengrad müssen zusammen angegeben werden."),
    "search.missing": _l("%(field)s fehlt."),
    "search.too_long": _l("%(field)s: Die Eingabe ist zu lang (höchstens %(max)d Zeichen)."),
    # a CSV file as a whole (csvio.read_table)
    "csv.malformed": _l("Die CSV-Datei ist fehlerhaft: %(detail)s"),
    "csv.empty": _l("Die Datei ist leer oder die Kopfzeile fehlt."),
    "csv.stray_cell": _l("Die Zeile hat in Spalte %(column)s einen Wert, aber dort steht keine Spaltenüberschrift."),
    "csv.utf16": _l("Die Datei ist UTF-16-kodiert. Bitte als „CSV UTF-8“ speichern."),
    "csv.not_utf8": _l("Die Datei ist nicht UTF-8-kodiert (z. B. Excel „CSV (Trennzeichen-getrennt)“). "
                       "Bitte als „CSV UTF-8 (durch Trennzeichen getrennt)“ speichern."),
    "csv.no_rows": _l("Die Datei enthält keine Datenzeilen."),
    "column.unknown": _l("Unbekannte Spalte „%(column)s“. Erlaubt sind: %(allowed)s."),
    "column.duplicate": _l("Die Spalte „%(column)s“ kommt doppelt vor."),
    "column.missing": _l("Die Pflichtspalte „%(column)s“ fehlt."),
    "row.duplicate": _l("Doppelte Zeile: derselbe Eintrag steht schon in Zeile %(other)s."),
    # one listing: a CSV row, the admin form, the write API, a public proposal (csvio.check_listing)
    "value.control_character": _l("Der Wert enthält ein unzulässiges Steuerzeichen (NUL)."),
    "value.too_long": _l("Der Wert ist zu lang (%(length)s Zeichen, höchstens %(max)s)."),
    "number.invalid": _l("„%(value)s“ ist keine Zahl."),
    "number.not_finite": _l("„%(value)s“ ist keine endliche Zahl."),
    "name.missing": _l("Der Name fehlt."),
    "kind.missing": _l("Die Art fehlt."),
    "kind.unknown": _l("Unbekannte Art „%(value)s“."),
    "region.missing": _l("Die Region fehlt."),
    "region.unknown": _l("Unbekannte Region „%(value)s“."),
    "topic.unknown": _l("Unbekanntes Thema „%(value)s“."),
    "postcode.invalid": _l("„%(value)s“ ist keine fünfstellige Postleitzahl."),
    "place.missing": _l("Ohne Koordinaten werden Postleitzahl oder Ort gebraucht."),
    "service_radius_km.out_of_range": _l("Der Umkreis muss größer als 0 und höchstens %(max)s km sein."),
    "coordinates.incomplete": _l("Breitengrad und Längengrad gehören zusammen: bitte beide angeben oder beide "
                                 "leer lassen."),
    "latitude.out_of_range": _l("Der Breitengrad %(value)s liegt außerhalb von -90 bis 90."),
    "longitude.out_of_range": _l("Der Längengrad %(value)s liegt außerhalb von -180 bis 180."),
    "coordinates.swapped": _l("Breiten- und Längengrad sind offenbar vertauscht (Deutschland: Breite 47–56, "
                              "Länge 5–16)."),
    "website.invalid": _l("„%(value)s“ ist keine Webadresse (http:// oder https://)."),
    "website.too_long": _l("Die Webadresse ist zu lang (höchstens %(max)s Zeichen)."),
    "languages.invalid": _l("„%(value)s“ ist kein Sprachkürzel (erwartet z. B. de, en, tr)."),
    "boolean.invalid": _l("„%(value)s“ ist weder ja noch nein."),
    "date.invalid": _l("„%(value)s“ ist kein Datum (erwartet JJJJ-MM-TT, z. B. 2025-03-01)."),
    "date.in_future": _l("Das Datum %(value)s liegt in der Zukunft."),
    "geocoder.missing": _l("Koordinaten fehlen und es steht kein Geocoder zur Verfügung."),
    "place.not_found": _l("Ort nicht gefunden: „%(query)s“."),
    "place.not_found_suggestions": _l("Ort nicht gefunden: „%(query)s“. Meinten Sie: %(suggestions)s?"),
    "region.not_allowed": _l("Sie dürfen in der Region „%(region)s“ keine Einträge anlegen."),
    "duplicate.same_listing": _l("Ein Eintrag kann nicht mit sich selbst zusammengeführt werden."),
    # possible duplicates in an import preview (warnings, imports.find_duplicates)
    "duplicate.same_postcode_listing": _l("Gleicher Name und gleiche Postleitzahl (%(postcode)s) wie Eintrag "
                                          "#%(partner_id)s."),
    "duplicate.same_postcode_line": _l("Gleicher Name und gleiche Postleitzahl (%(postcode)s) wie Zeile "
                                       "%(other_line)s."),
    "duplicate.nearby_listing": _l("Gleicher Name wie Eintrag #%(partner_id)s, %(km)s km entfernt."),
    "duplicate.nearby_line": _l("Gleicher Name wie Zeile %(other_line)s, %(km)s km entfernt."),
    # public suggestions and reports, moderation decisions (moderation)
    "report.message_missing": _l("Bitte beschreiben Sie, was nicht (mehr) stimmt."),
    "message.too_long": _l("Die Nachricht ist zu lang (%(length)s Zeichen, höchstens %(max)s)."),
    "message.control_character": _l("Die Nachricht enthält ein unzulässiges Steuerzeichen."),
    "email.too_long": _l("Die E-Mail-Adresse ist zu lang (höchstens %(max)s Zeichen)."),
    "note.too_long": _l("Die Notiz ist zu lang (%(length)s Zeichen, höchstens %(max)s)."),
    "duplicate.gone": _l("Den vorhandenen Eintrag gibt es nicht mehr (archiviert oder gelöscht). Bitte als neuen "
                         "Eintrag anlegen oder ablehnen."),
    "duplicate.foreign_region": _l("Der vorhandene Eintrag gehört zu einer Region, die Sie nicht pflegen. Bitte "
                                   "wenden Sie sich an die Administration."),
    "mode.missing": _l("Bitte wählen Sie: mit dem vorhandenen Eintrag zusammenführen oder trotzdem als neuen "
                       "Eintrag anlegen."),
})
