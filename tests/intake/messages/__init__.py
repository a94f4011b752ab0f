"""Builders of real test messages: RFC 822 emails (email.message.EmailMessage) with real PDF and TIFF attachments,
as an inbound-email provider or a fax-to-email gateway would deliver them."""

from __future__ import annotations

import io
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from django.utils import timezone


def pdf_bytes(pages: int = 2) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)  # US Letter, as a fax server renders it
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def tiff_bytes(pages: int = 1) -> bytes:
    from PIL import Image

    frames = [Image.new("1", (1728, 200), 1) for _ in range(pages)]  # 1-bit, fax width
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", compression="group4", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


# What a renamed Windows program starts with: "MZ", then the DOS stub.
EXE_BYTES = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"This program cannot be run in DOS mode." * 20
)


def build(
    *,
    sender: str = "Jane Hartley <jhartley@hartleymoss.example>",
    subject: str = "Records request for our client",
    body: str | None = "Please find the signed authorization attached.",
    attachments: list[tuple[bytes, str, str, str]] | None = None,
    message_id: str | None = "",
) -> bytes:
    """An RFC 822 message as bytes. attachments: (content, maintype, subtype, filename). message_id "" makes one,
    None leaves the header out."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "him@alpha-general.example"
    message["Subject"] = subject
    message["Date"] = format_datetime(timezone.now())
    if message_id is not None:
        message["Message-ID"] = message_id or make_msgid(domain="mail.example")
    if body is not None:
        message.set_content(body)
    for content, maintype, subtype, filename in attachments or []:
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(message)


def fax_message(pages: int = 2) -> bytes:
    """A fax-to-email gateway's delivery: a PDF of the faxed pages from the gateway's address."""
    return build(
        sender="eFax <message@inbound.efax.com>",
        subject="Fax from (312) 555-0199 - 2 pages",
        body="You have received a 2 page fax. The fax is attached to this email as a PDF.",
        attachments=[(pdf_bytes(pages), "application", "pdf", "fax-3125550199.pdf")],
    )
