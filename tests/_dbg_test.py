import io, pytest
from tests.test_csvio import *
def test_dbg(taxonomy, geocoder, make_partner):
    make_partner(name='=HYPERLINK("x")', organisation="-Minus GmbH", description='Zeile eins\nZwei',
        phone="+49 2336 0000", city="@Schwelm", street="\tTabstraße 1", website="",
        latitude=51.2857, longitude=-7.2930, service_radius_km=12.5, languages="de,tr", is_person=False, confirmed_at=None)
    make_partner(name="'Apostroph", organisation="", topics=[], description="")
    data = export_bytes()
    print(data.decode())
    wipe_partners()
    try:
        run_import(data, geocoder)
    except ImportFailed as e:
        print([str(x) for x in e.errors])
