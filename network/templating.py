"""Template helpers: language, number and date formatting, the label registry's label() and labels()."""
from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_babel import format_date as babel_format_date
from flask_babel import format_decimal, get_locale

from network.labels import label, labels

LANGUAGE_NAMES = {
    "de": {"de": "Deutsch", "en": "Englisch", "tr": "Türkisch", "fr": "Französisch", "nl": "Niederländisch",
           "pl": "Polnisch", "ar": "Arabisch", "ru": "Russisch", "es": "Spanisch", "it": "Italienisch"},
    "en": {"de": "German", "en": "English", "tr": "Turkish", "fr": "French", "nl": "Dutch",
           "pl": "Polish", "ar": "Arabic", "ru": "Russian", "es": "Spanish", "it": "Italian"},
}


def current_lang() -> str:
    return str(get_locale() or "de")


def format_km(value: float | None) -> str:
    if value is None:
        return ""
    return format_decimal(round(value, 1), format="#,##0.0")


def format_date(value: datetime | None) -> str:
    if value is None:
        return ""
    return babel_format_date(value, format="long")


def language_names(codes: list[str]) -> str:
    names = LANGUAGE_NAMES.get(current_lang(), LANGUAGE_NAMES["de"])
    return ", ".join(names.get(code, code) for code in codes)


def register(app: Flask) -> None:
    app.jinja_env.globals.update(
        label=label,
        labels=labels,
        current_lang=current_lang,
        format_km=format_km,
        format_date=format_date,
        language_names=language_names,
    )
