"""Admin views for the CSV import: upload, preview (errors, duplicate warnings), confirm in one transaction."""
from __future__ import annotations

from pathlib import PurePosixPath

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge

from network.admin.blueprint import bp
from network.directory.imports import ImportPreview, ImportStage, StagedImport, preview_import, run_import
from network.extensions import db
from network.problems import Invalid

# Cap on the error rows rendered: a file in the wrong format can produce one error per cell.
MAX_SHOWN_ERRORS = 500
SAMPLE_ROWS = 10
IMPORT_ENDPOINTS = ("admin.csv_import", "admin.csv_import_preview", "admin.csv_import_confirm")


class ImportUploadForm(FlaskForm):
    file = FileField(
        _l("CSV-Datei"),
        validators=[
            FileRequired(message=_l("Bitte wählen Sie eine CSV-Datei aus.")),
            FileAllowed(["csv", "txt"], message=_l("Bitte laden Sie eine CSV-Datei hoch (Endung .csv). "
                                                   "Excel-Dateien bitte als „CSV UTF-8“ speichern.")),
        ],
    )


def _require_importer() -> None:
    # Coaches pass the admin blueprint's gate (they edit their own listing) but import nothing.
    if not (current_user.is_admin or current_user.is_editor):
        abort(403)


def _stage() -> ImportStage:
    return ImportStage(current_app.config["IMPORT_STAGE_DIR"])


def _max_size_label() -> str:
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if not limit:
        return ""
    if limit >= 1024 * 1024:
        return _("%(size)s MB", size=format_decimal(limit / (1024 * 1024), format="#,##0.#"))
    return _("%(size)s KB", size=max(1, limit // 1024))


def _render_upload(form: ImportUploadForm, status: int = 200, error: str | None = None):
    return render_template("admin/import_upload.html", form=form, error=error, max_size=_max_size_label(),
                           max_bytes=current_app.config["MAX_CONTENT_LENGTH"] or 0), status


def _staged_or_none(token: str) -> StagedImport | None:
    return _stage().get(token, user_id=current_user.id)


def _gone():
    return _render_upload(ImportUploadForm(), 404, _(
        "Diese hochgeladene Datei gibt es nicht (mehr): Vorschauen verfallen nach zwei Stunden und gehören "
        "der Person, die hochgeladen hat. Bitte laden Sie die Datei erneut hoch."))


def _render_preview(staged: StagedImport, preview: ImportPreview, status: int = 200):
    return render_template(
        "admin/import_preview.html", staged=staged, preview=preview,
        errors=preview.errors[:MAX_SHOWN_ERRORS], hidden_errors=max(0, len(preview.errors) - MAX_SHOWN_ERRORS),
        sample=preview.rows[:SAMPLE_ROWS],
    ), status


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge):
    message = _("Die Datei ist zu groß: erlaubt sind höchstens %(size)s. Bitte teilen Sie sie in mehrere "
                "Dateien auf.", size=_max_size_label())
    if request.endpoint in IMPORT_ENDPOINTS and current_user.is_authenticated and not current_user.is_coach:
        return _render_upload(ImportUploadForm(formdata=None), 413, message)
    # The admin blueprint's other views get the application's usual error page.
    return render_template("errors/error.html", status=413, message=message), 413


@bp.route("/import", methods=["GET", "POST"])
def csv_import():
    _require_importer()
    form = ImportUploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        # Only the base name: some browsers send the whole client path ("C:\\Users\\…\\liste.csv").
        filename = PurePosixPath((upload.filename or "").replace("\\", "/")).name
        staged = _stage().put(upload.read(), user_id=current_user.id, filename=filename)
        return redirect(url_for("admin.csv_import_preview", token=staged.token))
    return _render_upload(form, 400 if request.method == "POST" else 200)


@bp.get("/import/<token>")
def csv_import_preview(token: str):
    _require_importer()
    staged = _staged_or_none(token)
    if staged is None:
        return _gone()
    preview = preview_import(db.session, staged.read(), current_app.extensions["partnernetz.geocoder"],
                             actor=current_user)
    # Validation only reads; the lookups must not leave anything pending in the session.
    db.session.rollback()
    return _render_preview(staged, preview)


@bp.post("/import/<token>/bestaetigen")
def csv_import_confirm(token: str):
    _require_importer()
    stage = _stage()
    staged = _staged_or_none(token)
    if staged is None:
        return _gone()
    claimed = stage.claim(staged)
    if claimed is None:
        flash(_("Diese Datei wird gerade importiert."), "info")
        return redirect(url_for("admin.csv_import"))
    geocoder = current_app.extensions["partnernetz.geocoder"]
    try:
        report = run_import(db.session, claimed.read_bytes(), geocoder, actor=current_user,
                            filename=staged.filename)
    except Invalid as exc:
        db.session.rollback()
        stage.release(staged, claimed)
        flash(_("Nichts importiert: Die Datei enthält Fehler (siehe unten)."), "error")
        preview = ImportPreview(errors=exc.problems)
        return _render_preview(staged, preview, 422)
    except Exception:
        db.session.rollback()
        stage.release(staged, claimed)
        raise
    db.session.commit()
    stage.discard(token)
    flash(_("%(count)s Einträge importiert (%(geocoded)s geokodiert, %(orgs)s neue Organisationen).",
            count=report.created, geocoded=report.geocoded, orgs=report.organisations_created), "success")
    target = url_for("admin.listings")
    return redirect(target if target != "#" else url_for("admin.dashboard"))


@bp.post("/import/<token>/verwerfen")
def csv_import_discard(token: str):
    _require_importer()
    staged = _staged_or_none(token)
    if staged is not None:
        _stage().discard(staged.token)
    flash(_("Die hochgeladene Datei ist verworfen."), "info")
    return redirect(url_for("admin.csv_import"))
