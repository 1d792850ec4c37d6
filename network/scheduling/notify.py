"""Visit notifications: iCal data from a visit, iMIP e-mails (text + text/calendar + invite.ics) to firm and coach."""
from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage

from network.mail import Mailer
from network.scheduling.ical import InviteData, message_for
from network.scheduling.localtime import to_local
from network.scheduling.models import Visit

WEEKDAYS = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")


def format_local(moment: datetime) -> str:
    local = to_local(moment)
    return f"{WEEKDAYS[local.weekday()]}, {local:%d.%m.%Y %H:%M} Uhr"


def invite_data(visit: Visit, manage_url: str | None = None) -> InviteData:
    """The invite view of a visit; the coach organises, the firm's contact attends."""
    partner = visit.partner
    lines = []
    if visit.topic is not None:
        lines.append(f"Thema: {visit.topic.name_de}")
    if visit.message:
        lines.append(f"Nachricht: {visit.message}")
    lines.append(f"Firma: {visit.firm_name}")
    if visit.contact_name:
        lines.append(f"Ansprechperson: {visit.contact_name}")
    if visit.contact_phone:
        lines.append(f"Telefon: {visit.contact_phone}")
    if manage_url:
        lines.append(f"Termin ansehen, verschieben oder absagen: {manage_url}")
    return InviteData(
        uid=visit.uid,
        sequence=visit.sequence,
        status=visit.status,
        start=visit.start_at,
        end=visit.end_at,
        summary=f"Vor-Ort-Termin: {visit.firm_name} – {partner.name}",
        location=visit.firm_address,
        description="\n".join(lines),
        organizer_name=partner.name,
        organizer_email=partner.email or "no-reply@partnernetz.invalid",
        attendee_name=visit.contact_name,
        attendee_email=visit.contact_email,
        lat=visit.firm_lat,
        lon=visit.firm_lon,
        url=manage_url,
        created=visit.created_at,
    )


SUBJECTS = {
    "requested": "Terminanfrage",
    "confirmed": "Termin bestätigt",
    "declined": "Termin abgelehnt",
    "cancelled": "Termin abgesagt",
    "expired": "Terminanfrage abgelaufen",
}


def imip_message(mailer: Mailer, to: str, data: InviteData, now: datetime, text: str) -> EmailMessage:
    """multipart/mixed: multipart/alternative (text/plain, text/calendar; method=…) plus invite.ics.

    Outlook treats a mail as an invitation only when the calendar part is
    text/calendar with the method parameter; the attachment serves every other client.
    """
    method, body = message_for(data, now)
    subject = f"{SUBJECTS.get(data.status, 'Termin')}: {format_local(data.start)} – {data.summary}"
    msg = mailer.new_message(to, subject.replace("\n", " "), text)
    msg.add_alternative(body, maintype="text", subtype="calendar",
                        params={"method": method, "charset": "UTF-8"})
    msg.add_attachment(body, maintype="application", subtype="ics", filename="invite.ics")
    return msg


def notify_visit(mailer: Mailer, visit: Visit, now: datetime, firm_manage_url: str | None,
                 coach_url: str | None = None) -> list[str]:
    """Send the visit's current state to the firm contact and to the coach; returns the recipients."""
    sent = []
    state = SUBJECTS.get(visit.status, "Termin")
    when = format_local(visit.start_at)
    if visit.contact_email:
        text = (f"Guten Tag {visit.contact_name},\n\n{state}: {when} mit {visit.partner.name}.\n"
                f"Ort: {visit.firm_address}\n")
        if visit.decline_reason and visit.status == "declined":
            text += f"Grund: {visit.decline_reason}\n"
        if firm_manage_url:
            text += f"\nTermin ansehen, verschieben oder absagen:\n{firm_manage_url}\n"
        text += "\nDie Kalenderdatei hängt an.\n"
        mailer.send(imip_message(mailer, visit.contact_email, invite_data(visit, firm_manage_url), now, text))
        sent.append(visit.contact_email)
    if visit.partner.email:
        text = (f"{state}: {when}\nFirma: {visit.firm_name}, {visit.firm_address}\n"
                f"Kontakt: {visit.contact_name} {visit.contact_email} {visit.contact_phone}\n")
        if coach_url:
            text += f"\nIm Partnernetz: {coach_url}\n"
        mailer.send(imip_message(mailer, visit.partner.email, invite_data(visit, coach_url), now, text))
        sent.append(visit.partner.email)
    return sent
