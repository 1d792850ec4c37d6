"""Tests for the offline gazetteer: normalisation, postcodes, place names, suggestions and the shipped data file."""
from __future__ import annotations

import time

import pytest
from geopy.distance import great_circle
from geopy.location import Location

from network.geo.gazetteer import DATA_FILE, Gazetteer, Place, PostcodeArea, normalize

# Town centres (market square / town hall), taken independently of the gazetteer's data.
CENTRES: dict[str, tuple[float, float]] = {
    "Hagen": (51.3671, 7.4633),
    "Dortmund": (51.5136, 7.4653),
    "Bochum": (51.4818, 7.2162),
    "Herne": (51.5388, 7.2256),
    "Schwelm": (51.2864, 7.2936),
    "Siegen": (50.8748, 8.0243),
    "Arnsberg": (51.3966, 8.0641),
    "Olpe": (51.0289, 7.8517),
    "Soest": (51.5711, 8.1057),
    "Iserlohn": (51.3759, 7.6995),
    "Münster": (51.9625, 7.6257),
    "Lüdenscheid": (51.2198, 7.6273),
    "Wattenscheid": (51.4806, 7.1425),
}


def km_to(location: Location, town: str) -> float:
    return great_circle((location.latitude, location.longitude), CENTRES[town]).km


# --- normalize -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [
    ("Lüdenscheid", "Luedenscheid"),
    ("Lüdenscheid", "LUEDENSCHEID"),
    ("LÜDENSCHEID", "luedenscheid"),
    ("Münster", "Muenster"),
    ("Gießen", "Giessen"),
    ("Köln", "KOELN"),
    ("Bochum-Wattenscheid", "bochum  wattenscheid"),
    ("Frankfurt (Oder)", "frankfurt oder"),
    ("Château", "chateau"),
    ("Mu\u0308nster", "Münster"),  # decomposed umlaut, as some keyboards and macOS file names send it
])
def test_normalize_equal(a: str, b: str) -> None:
    assert normalize(a) == normalize(b)


@pytest.mark.parametrize(("text", "expected"), [
    ("  Lüdenscheid ", "luedenscheid"),
    ("Straße", "strasse"),
    ("St.-Augustin", "st augustin"),
    ("Halle (Saale)", "halle saale"),
    ("a--b,,c", "a b c"),
    ("", ""),
    ("!!!", ""),
])
def test_normalize_values(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_normalize_keeps_munster_and_muenster_apart() -> None:
    assert normalize("Munster") != normalize("Münster")


# --- postcodes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("postcode", "town"), [
    ("58095", "Hagen"),
    ("44135", "Dortmund"),
    ("44787", "Bochum"),
    ("44623", "Herne"),
    ("58332", "Schwelm"),
    ("57072", "Siegen"),
    ("59821", "Arnsberg"),
    ("57462", "Olpe"),
    ("59494", "Soest"),
    ("58636", "Iserlohn"),
])
def test_postcode_lands_near_town_centre(gazetteer: Gazetteer, postcode: str, town: str) -> None:
    location = gazetteer.geocode(postcode)
    assert isinstance(location, Location)
    assert location.address == f"{postcode} {town}"
    assert km_to(location, town) < 5.0
    assert location.raw["type"] == "postcode" and location.raw["postcode"] == postcode


def test_postcode_anywhere_in_the_query_wins(gazetteer: Gazetteer) -> None:
    location = gazetteer.geocode("Hauptstraße 5, 58332 Schwelm")
    assert location is not None and location.address == "58332 Schwelm"
    # Even a different town name in the query loses against the postcode.
    location = gazetteer.geocode("Dortmund, D-58332")
    assert location is not None and location.address == "58332 Schwelm"


def test_postcode_with_named_village_prefers_that_village(gazetteer: Gazetteer) -> None:
    areas = gazetteer.postcode("03130")
    assert len(areas) > 1  # one postcode, several villages
    village = areas[-1]
    location = gazetteer.geocode(f"{village.postcode} {village.place}")
    assert location is not None and location.address == village.label
    assert (location.latitude, location.longitude) == (village.lat, village.lon)


def test_postcode_prefix_is_no_match_but_suggests(gazetteer: Gazetteer) -> None:
    assert gazetteer.geocode("583") is None
    suggestions = gazetteer.suggest("583")
    assert "58332 Schwelm" in suggestions
    assert all(s.startswith("583") for s in suggestions)


def test_unknown_postcode_suggests_neighbours(gazetteer: Gazetteer) -> None:
    assert gazetteer.postcode("58399") == []
    assert gazetteer.geocode("58399") is None
    assert all(s.startswith("583") for s in gazetteer.suggest("58399"))
    assert gazetteer.suggest("58399")


def test_house_numbers_do_not_become_postcode_suggestions(gazetteer: Gazetteer) -> None:
    suggestions = gazetteer.suggest("Hauptstraße 5, Schwlm")
    assert suggestions and suggestions[0] == "Schwelm, Nordrhein-Westfalen"
    assert not any(s[:1].isdigit() for s in suggestions)


# --- place names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "town"), [
    ("Münster", "Münster"),
    ("Muenster", "Münster"),
    ("MÜNSTER", "Münster"),
    ("Lüdenscheid", "Lüdenscheid"),
    ("Luedenscheid", "Lüdenscheid"),
    ("lUEDENSCHEID", "Lüdenscheid"),
    ("Schwelm", "Schwelm"),
    ("schwelm", "Schwelm"),
    ("  SCHWELM  ", "Schwelm"),
    ("Hauptstraße 5, Schwelm", "Schwelm"),
    ("Hauptstraße 5 Schwelm", "Schwelm"),
    ("Hagen", "Hagen"),  # the big Hagen, not Hagen am Teutoburger Wald or the villages
    ("Dortmund Innenstadt", "Dortmund"),
    ("Dortmund-Mitte", "Dortmund"),  # Berlin-Mitte is far away, so this stays Dortmund
    ("Bochum-Wattenscheid", "Wattenscheid"),
    ("Bochum Wattenscheid", "Wattenscheid"),
])
def test_place_names(gazetteer: Gazetteer, query: str, town: str) -> None:
    location = gazetteer.geocode(query)
    assert location is not None, query
    assert km_to(location, town) < 5.0, (query, location.address)
    assert location.address.startswith(town)
    assert location.raw["type"] == "place"


def test_district_is_not_the_city_centre(gazetteer: Gazetteer) -> None:
    location = gazetteer.geocode("Bochum-Wattenscheid")
    assert location is not None
    assert km_to(location, "Wattenscheid") < km_to(location, "Bochum")


def test_label_names_the_state(gazetteer: Gazetteer) -> None:
    location = gazetteer.geocode("Schwelm")
    assert location is not None and location.address == "Schwelm, Nordrhein-Westfalen"
    assert location.raw["population"] > 20000


def test_several_matches_most_populous_first(gazetteer: Gazetteer) -> None:
    locations = gazetteer.geocode("Münster", exactly_one=False)
    assert isinstance(locations, list) and len(locations) >= 2
    populations = [loc.raw["population"] for loc in locations]
    assert populations == sorted(populations, reverse=True)
    assert locations[0].address == "Münster, Nordrhein-Westfalen"


def test_own_name_beats_another_towns_alternate_spelling(gazetteer: Gazetteer) -> None:
    # GeoNames lists "Munster" as a spelling of Münster, but Munster is also a town of its own.
    location = gazetteer.geocode("Munster")
    assert location is not None and location.address == "Munster, Niedersachsen"


def test_german_names_rather_than_exonyms(gazetteer: Gazetteer) -> None:
    for query in ("München", "Muenchen", "Munich"):
        location = gazetteer.geocode(query)
        assert location is not None and location.address == "München, Bayern", query


def test_sankt_and_st_are_the_same(gazetteer: Gazetteer) -> None:
    a = gazetteer.geocode("St. Augustin")
    b = gazetteer.geocode("Sankt Augustin")
    assert a is not None and b is not None and a.address == b.address


def test_village_known_only_from_postcodes(gazetteer: Gazetteer) -> None:
    village = gazetteer.postcode("03130")[-1]
    assert gazetteer.places(village.place), village


def test_unknown_place(gazetteer: Gazetteer) -> None:
    assert gazetteer.geocode("Xyzzyhausen am Nirgendwo") is None
    assert gazetteer.geocode("") is None
    assert gazetteer.geocode("   ") is None
    assert gazetteer.geocode("Xyzzy", exactly_one=False) is None


def test_exactly_one_false_gives_list(gazetteer: Gazetteer) -> None:
    result = gazetteer.geocode("58332", exactly_one=False)
    assert isinstance(result, list) and [loc.address for loc in result] == ["58332 Schwelm"]


# --- suggestions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "expected"), [
    ("Schwlm", "Schwelm, Nordrhein-Westfalen"),
    ("Ludenschied", "Lüdenscheid, Nordrhein-Westfalen"),
    ("Iserlhon", "Iserlohn, Nordrhein-Westfalen"),
    ("Lüdensch", "Lüdenscheid, Nordrhein-Westfalen"),  # prefix
])
def test_suggestions(gazetteer: Gazetteer, query: str, expected: str) -> None:
    assert gazetteer.geocode(query) is None
    assert expected in gazetteer.suggest(query)


def test_suggest_limit_and_empty(gazetteer: Gazetteer) -> None:
    assert len(gazetteer.suggest("Neu", limit=3)) == 3
    assert gazetteer.suggest("") == []
    assert gazetteer.suggest("Schwlm", limit=0) == []
    assert gazetteer.suggest("qqqqqqqqqqqq") == []


# --- small hand-made gazetteer: the ranking rules without the big data -----------------------------------


def test_ranking_rules_on_tiny_data() -> None:
    places = [
        Place("Großstadt", 50.0, 7.0, "Testland", 500_000),
        Place("Altdorf", 50.5, 7.5, "Testland", 800),
        Place("Kleinstadt", 51.0, 8.0, "Testland", 20_000),
        Place("Oberdorf", 50.02, 7.02, "Testland", 3_000),
    ]
    tiny = Gazetteer([PostcodeArea("12345", "Kleinstadt", 51.0, 8.0, "Testland")], places,
                     alternates={0: ["Altdorf", "Grossstadt am Fluss"], 3: ["Großstadt-Oberdorf"]})
    # own name beats a (more populous) town's alternate name
    assert tiny.geocode("Altdorf").address == "Altdorf, Testland"
    assert tiny.geocode("Altdorf", exactly_one=False)[1].address == "Großstadt, Testland"
    assert tiny.geocode("Grossstadt").address == "Großstadt, Testland"
    assert tiny.geocode("Großstadt-Oberdorf").address == "Oberdorf, Testland"
    assert tiny.geocode("Großstadt Oberdorf Süd").address == "Oberdorf, Testland"
    assert tiny.geocode("Weg 1, 12345").address == "12345 Kleinstadt"
    assert tiny.suggest("Kleinstat") == ["Kleinstadt, Testland"]


# --- the shipped data file -----------------------------------------------------------------------------


@pytest.mark.slow
def test_data_file_is_compact_and_loads_fast() -> None:
    assert DATA_FILE.stat().st_size < 1_500_000
    # CPU time of this process: on a shared, busy machine the wall clock measures the neighbours.
    started = time.process_time()
    fresh = Gazetteer.from_file(DATA_FILE)
    elapsed = time.process_time() - started
    assert elapsed < 2.0, f"loading took {elapsed:.2f} s"
    assert fresh.postcode_count > 8000  # Germany has about 8,200 postcodes
    assert len(fresh) > 10000


def test_default_is_loaded_once() -> None:
    assert Gazetteer.default() is Gazetteer.default()


def test_company_postcodes_are_dropped(gazetteer: Gazetteer) -> None:
    # 10875 is a company postcode (accuracy 0 in GeoNames: Daimler, Mercedes-Benz).
    assert gazetteer.postcode("10875") == []


def test_data_file_carries_attribution() -> None:
    import gzip

    with gzip.open(DATA_FILE, "rt", encoding="utf-8") as fh:
        header = fh.readline()
    assert "GeoNames" in header and "CC BY 4.0" in header


def test_every_suggestion_resolves_back_to_itself():
    """A user who clicks a "Meinten Sie" suggestion must get exactly that place."""
    gazetteer = Gazetteer.default()
    for typo in ("Schwlm", "Ludenschied", "Iserlon", "Arnsbreg", "Siegn", "Bochm"):
        for label in gazetteer.suggest(typo):
            assert gazetteer.geocode(label).address == label, (typo, label)
