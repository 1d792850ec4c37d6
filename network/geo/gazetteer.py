"""Offline, geopy-compatible gazetteer of German postcodes and place names (GeoNames data, CC BY 4.0)."""
from __future__ import annotations

import bisect
import difflib
import gzip
import itertools
import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geopy.location import Location

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "gazetteer_de.tsv.gz"
ATTRIBUTION = "Orts- und Postleitzahldaten: GeoNames (www.geonames.org), lizenziert unter CC BY 4.0"

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})
_NOT_ALNUM = re.compile(r"[\W_]+")
_POSTCODE = re.compile(r"(?<!\d)\d{5}(?!\d)")
_DIGITS = re.compile(r"\d+")
_PARTS = re.compile(r"[,;\n]+")

# Match quality, best first; population decides within a tier. A place's own
# name beats another place's alternate name: "Munster" is the town in Lower
# Saxony, not Münster, though GeoNames lists "Munster" among Münster's
# spellings; "Aken" is Aken (Elbe), not Aachen's old name.
_TIER_NAME, _TIER_FOLDED, _TIER_ALTERNATE = 0, 1, 2

# One-word fallbacks ("Dortmund Innenstadt" -> Dortmund) skip words this short:
# "am", "an", "st" would otherwise match some hamlet.
_MIN_WORD_LEN = 3
# A place this close to a town named before it in the query is that town's district.
_DISTRICT_KM = 15.0
# Word-prefix fallback ("Frankfurt" -> "Frankfurt am Main") needs this much text.
_MIN_PREFIX_LEN = 4
# Work bounds, so that matching stays linear in the length of the query (README, "Input limits"). No
# address has more comma-separated parts, and no part of one more words, than these; beyond them
# only the rightmost parts and the last words of a part are read (the place usually closes an address).
_MAX_PARTS = 8
_MAX_PART_WORDS = 32
# How alike a name must be to a typo to be suggested (difflib's ratio).
_SUGGEST_CUTOFF = 0.75


def _strip_accents(text: str) -> str:
    if text.isascii():  # most names once umlauts are spelled out; keeps loading fast
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _clean(text: str) -> str:
    return _NOT_ALNUM.sub(" ", text).strip()


def normalize(text: str) -> str:
    """Comparison key: casefolded, ä/ö/ü -> ae/oe/ue, ß -> ss, other accents dropped, punctuation -> single spaces."""
    # NFC first so that a decomposed "u + combining diaeresis" is treated as ü, not as u.
    folded = unicodedata.normalize("NFC", text).casefold().translate(_UMLAUTS)
    return _clean(_strip_accents(folded))


def _fold(text: str) -> str:
    """Key that writes umlauts without the e ("Munchen"), as people do on foreign keyboards."""
    return _clean(_strip_accents(unicodedata.normalize("NFC", text).casefold()))


@dataclass(frozen=True, slots=True)
class Place:
    """A named place (town, village or town district) with its state and population (0 = unknown)."""

    name: str
    lat: float
    lon: float
    state: str
    population: int

    @property
    def label(self) -> str:
        # "Berlin, Berlin" says nothing twice.
        return f"{self.name}, {self.state}" if self.state and self.state != self.name else self.name


@dataclass(frozen=True, slots=True)
class PostcodeArea:
    """One place within a postcode; a postcode may cover several villages."""

    postcode: str
    place: str
    lat: float
    lon: float
    state: str

    @property
    def label(self) -> str:
        return f"{self.postcode} {self.place}"


class Gazetteer:
    """Postcode and place-name lookup over in-memory indexes; read-only after construction, so thread-safe."""

    _default: Gazetteer | None = None
    _default_lock = threading.Lock()

    def __init__(self, postcodes: Iterable[PostcodeArea], places: Iterable[Place],
                 alternates: dict[int, list[str]] | None = None) -> None:
        self._postcodes: dict[str, list[PostcodeArea]] = {}
        for area in postcodes:
            self._postcodes.setdefault(area.postcode, []).append(area)
        self._postcode_list = sorted(self._postcodes)
        self._places: list[Place] = list(places)
        self._index: dict[str, list[tuple[int, int]]] = {}
        alternates = alternates or {}
        for i, place in enumerate(self._places):
            own = normalize(place.name)
            self._add_key(own, _TIER_NAME, i)
            self._add_key(_fold(place.name), _TIER_FOLDED, i)
            for alt in alternates.get(i, ()):
                key = normalize(alt)
                # A listed short form of the official name ("Halle" for "Halle (Saale)") is
                # as good as the name itself; other alternates are exonyms, old or dialect names.
                short = own.startswith(key + " ")
                self._add_key(key, _TIER_NAME if short else _TIER_ALTERNATE, i)
        # "Bad Schlema, Sachsen" (a label we suggest) must resolve to itself, not to a
        # place called "Sachsen" found by reading the parts from the right.
        self._labels: dict[str, list[int]] = {}
        for i, place in enumerate(self._places):
            if place.state and place.state != place.name:
                self._labels.setdefault(normalize(place.label), []).append(i)
        self._keys = sorted(self._index)
        self._keys_by_length: dict[int, list[str]] = {}
        for key in self._keys:
            self._keys_by_length.setdefault(len(key), []).append(key)
        # No run of words longer than the longest name can name a place: the bound of the word windows.
        self._max_key_words = max((key.count(" ") + 1 for key in self._keys), default=1)
        self._alphabet = frozenset("".join(self._keys))

    def _add_key(self, key: str, tier: int, idx: int) -> None:
        if not key:
            return
        entries = self._index.setdefault(key, [])
        for pos, (old_tier, old_idx) in enumerate(entries):
            if old_idx == idx:
                if tier < old_tier:
                    entries[pos] = (tier, idx)
                return
        entries.append((tier, idx))

    # --- loading -----------------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path = DATA_FILE) -> Gazetteer:
        """Read the file written by scripts/build_gazetteer.py."""
        states: dict[str, str] = {}
        postcodes: list[PostcodeArea] = []
        places: list[Place] = []
        alternates: dict[int, list[str]] = {}
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            header = fh.readline()
            if not header.startswith("#gazetteer_de\t1\t"):
                raise ValueError(f"{path}: not a gazetteer file of format 1 (rebuild with scripts/build_gazetteer.py)")
            for line in fh:
                f = line.rstrip("\n").split("\t")
                kind = f[0]
                if kind == "Z":
                    postcodes.append(PostcodeArea(f[1], f[5], float(f[2]), float(f[3]), states.get(f[4], "")))
                elif kind == "P":
                    if f[6]:
                        alternates[len(places)] = f[6].split("|")
                    places.append(Place(f[1], float(f[2]), float(f[3]), states.get(f[4], ""), int(f[5])))
                elif kind == "S":
                    states[f[1]] = f[2]
        return cls(postcodes, places, alternates)

    @classmethod
    def default(cls) -> Gazetteer:
        """The shipped gazetteer, loaded once per process."""
        if cls._default is None:
            with cls._default_lock:
                if cls._default is None:
                    cls._default = cls.from_file(DATA_FILE)
        return cls._default

    # --- lookups -----------------------------------------------------------------------------------

    def postcode(self, code: str) -> list[PostcodeArea]:
        """Places of a postcode, the main (most populous) one first; [] for an unknown postcode."""
        return list(self._postcodes.get(code.strip(), ()))

    def places(self, name: str) -> list[Place]:
        """Places whose name or alternate name normalises to that of `name`, best match first."""
        return [self._places[i] for i in self._ranked(self._lookup(normalize(name)))]

    def geocode(self, query: str, exactly_one: bool = True) -> Location | list[Location] | None:
        """Resolve a postcode or place name like geopy's geocoders do; None when nothing matches."""
        if not query or not query.strip():
            return None
        locations = self._postcode_locations(query) or self._place_locations(query)
        if not locations:
            return None
        return locations[0] if exactly_one else locations

    def suggest(self, query: str, limit: int = 5) -> list[str]:
        """Labels of postcodes and places close to `query`, best first, for a "did you mean"."""
        if limit <= 0 or not query or not query.strip():
            return []
        out: list[str] = []

        def add(labels: Iterable[str]) -> None:
            for label in labels:
                if len(out) >= limit:
                    return
                if label not in out:
                    out.append(label)

        only_digits = query.strip().isdigit()
        for match in _DIGITS.finditer(query):
            if len(out) >= limit:
                return out
            digits = match.group()
            # Short numbers inside an address are house numbers, not postcode prefixes.
            if len(digits) <= 5 and (len(digits) >= 3 or (only_digits and len(digits) >= 2)):
                add(self._postcode_suggestions(digits, limit))
        for text in self._name_candidates(query):
            if len(out) >= limit:
                break
            add(self._name_suggestions(text, limit))
        return out

    # --- postcode resolution -----------------------------------------------------------------------

    def _postcode_locations(self, query: str) -> list[Location]:
        for match in _POSTCODE.finditer(query):
            areas = self._postcodes.get(match.group())
            if not areas:
                continue
            rest = normalize(query[:match.start()] + " " + query[match.end():])
            # "03130 Tschernitz" means that village, not the postcode's main town.
            named = [a for a in areas if rest and _contains_words(rest, normalize(a.place))]
            ordered = named + [a for a in areas if a not in named]
            return [self._postcode_location(a) for a in ordered]
        return []

    @staticmethod
    def _postcode_location(area: PostcodeArea) -> Location:
        raw: dict[str, Any] = {
            "source": "gazetteer", "type": "postcode", "postcode": area.postcode, "name": area.place,
            "state": area.state, "lat": area.lat, "lon": area.lon, "label": area.label,
        }
        return Location(area.label, (area.lat, area.lon, 0.0), raw)

    def _postcode_suggestions(self, digits: str, limit: int) -> list[str]:
        # An unknown full postcode still has known neighbours: shorten it until some match.
        for length in range(len(digits), max(len(digits) - 3, 1) - 1, -1):
            prefix = digits[:length]
            start = bisect.bisect_left(self._postcode_list, prefix)
            codes: list[str] = []
            for code in itertools.islice(self._postcode_list, start, None):
                if not code.startswith(prefix) or len(codes) >= limit:
                    break
                codes.append(code)
            if codes:
                return [self._postcodes[c][0].label for c in codes]
        return []

    # --- place resolution --------------------------------------------------------------------------

    def _place_locations(self, query: str) -> list[Location]:
        for match_kind, indices in self._resolve_place(query):
            return [self._place_location(self._places[i], match_kind) for i in indices]
        return []

    def _place_location(self, place: Place, match_kind: str) -> Location:
        raw: dict[str, Any] = {
            "source": "gazetteer", "type": "place", "name": place.name, "state": place.state,
            "population": place.population, "lat": place.lat, "lon": place.lon, "label": place.label,
            "match": match_kind,
        }
        return Location(place.label, (place.lat, place.lon, 0.0), raw)

    def _resolve_place(self, query: str) -> Iterator[tuple[str, list[int]]]:
        """Yield (how it matched, ranked place indices), most trustworthy interpretation first."""
        whole = normalize(query)
        labelled = self._labels.get(whole)
        if labelled:
            yield "exact", self._ranked([(_TIER_NAME, i) for i in labelled])
        hits = self._lookup(whole)
        if hits:
            yield "exact", self._ranked(hits)
        parts = self._parts(query)
        for part in parts:
            hits = self._lookup(part)
            if hits:
                yield "exact", self._ranked(hits)
        for part in parts:
            hits = self._word_prefix(part)
            if hits:
                yield "prefix", self._ranked(hits)
        for part in parts:
            ranked = self._best_words(part)
            if ranked:
                yield "word", ranked

    @staticmethod
    def _parts(query: str) -> list[str]:
        """Comma-separated parts, right to left (the place usually closes an address), digits removed.

        At most _MAX_PARTS of them: each part costs lookups, and suggestions for it a scan of the names.
        """
        parts: dict[str, None] = {}
        for raw in reversed(_PARTS.split(query)):
            part = normalize(_DIGITS.sub(" ", raw))
            if part:
                parts[part] = None
                if len(parts) >= _MAX_PARTS:
                    break
        return list(parts)

    def _lookup(self, key: str) -> list[tuple[int, int]]:
        if not key:
            return []
        hits = list(self._index.get(key, ()))
        # "St. Augustin" and "Sankt Augustin" are the same town; GeoNames spells it one way or the other.
        for short, long in (("st ", "sankt "), ("sankt ", "st ")):
            if key.startswith(short):
                hits += self._index.get(long + key[len(short):], ())
        return hits

    def _ranked(self, hits: list[tuple[int, int]]) -> list[int]:
        best: dict[int, int] = {}
        for tier, idx in hits:
            if idx not in best or tier < best[idx]:
                best[idx] = tier
        return sorted(best, key=lambda i: (best[i], -self._places[i].population, i))

    def _word_prefix(self, part: str) -> list[tuple[int, int]]:
        if len(part) < _MIN_PREFIX_LEN:
            return []
        prefix = part + " "
        hits: list[tuple[int, int]] = []
        start = bisect.bisect_left(self._keys, prefix)
        for key in itertools.islice(self._keys, start, None):
            if not key.startswith(prefix):
                break
            hits += self._index[key]
        return hits

    def _best_words(self, part: str) -> list[int]:
        """Longest run of words that names a place: "Dortmund Innenstadt" -> Dortmund.

        Linear in the words: runs are at most as long as the longest name, and only the part's last
        _MAX_PART_WORDS words are read (the district check below compares matches pairwise).
        """
        words = part.split()[-_MAX_PART_WORDS:]
        for n in range(min(len(words) - 1, self._max_key_words), 0, -1):
            found: list[list[int]] = []
            hits: list[tuple[int, int]] = []
            for start in range(len(words) - n + 1):
                phrase = " ".join(words[start:start + n])
                if n == 1 and len(phrase) < _MIN_WORD_LEN:
                    continue
                phrase_hits = self._lookup(phrase)
                if phrase_hits:
                    found.append(self._ranked(phrase_hits))
                    hits += phrase_hits
            if not found:
                continue
            ranked = self._ranked(hits)
            # "Arnsberg-Neheim", "Hagen Hohenlimburg": a town followed by a place next to it
            # names the district, which is more precise than the town; "Dortmund Mitte" is
            # not Berlin-Mitte, which is far away, so the distance check keeps Dortmund.
            anchors = dict.fromkeys(found[0][:3])  # the top three of each earlier match, each place once
            for k in range(1, len(found)):
                for later in found[k]:
                    if any(a != later and self._is_district(later, a) for a in anchors):
                        return [later] + [i for i in ranked if i != later]
                anchors.update(dict.fromkeys(found[k][:3]))
            return ranked
        return []

    def _is_district(self, district: int, town: int) -> bool:
        pa, pb = self._places[town], self._places[district]
        if pb.population >= pa.population:
            return False
        dy = (pa.lat - pb.lat) * 111.2
        dx = (pa.lon - pb.lon) * 111.2 * math.cos(math.radians(pa.lat))
        return dx * dx + dy * dy < _DISTRICT_KM * _DISTRICT_KM

    # --- suggestions -------------------------------------------------------------------------------

    def _name_candidates(self, query: str) -> list[str]:
        candidates = [normalize(_DIGITS.sub(" ", query))] + self._parts(query)
        return [c for c in dict.fromkeys(candidates) if len(c) >= 2]

    def _name_suggestions(self, text: str, limit: int) -> list[str]:
        ranked: list[int] = []
        ranked += self._ranked(self._lookup(text))
        start = bisect.bisect_left(self._keys, text)
        prefix_hits: list[tuple[int, int]] = []
        for key in itertools.islice(self._keys, start, start + 200):
            if not key.startswith(text):
                break
            prefix_hits += self._index[key]
        ranked += sorted({i for _, i in prefix_hits}, key=lambda i: (-self._places[i].population, i))
        close: list[str] = []
        # difflib's cutoff needs 2 * shared letters / (both lengths) >= 0.75; counting the letters of a
        # name that occur in `text` at all (str.translate, in C) bounds that from above, so names that
        # cannot pass are dropped before difflib's slow per-name checks. The result is the same.
        drop = str.maketrans(dict.fromkeys(self._alphabet.difference(text)))
        for length in range(len(text) - 2, len(text) + 3):
            need = _SUGGEST_CUTOFF * (len(text) + length) / 2
            close += [key for key in self._keys_by_length.get(length, ()) if len(key.translate(drop)) >= need]
        for key in difflib.get_close_matches(text, close, n=limit, cutoff=_SUGGEST_CUTOFF):
            ranked += self._ranked(self._index[key])[:2]
        labels: list[str] = []
        for i in ranked:
            label = self._places[i].label
            if label not in labels:
                labels.append(label)
            if len(labels) >= limit:
                break
        return labels

    def __len__(self) -> int:
        return len(self._places)

    @property
    def postcode_count(self) -> int:
        return len(self._postcodes)


def _contains_words(text: str, words: str) -> bool:
    return bool(words) and f" {words} " in f" {text} "
