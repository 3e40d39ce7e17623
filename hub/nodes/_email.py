"""The ``email`` node: one message through an SMTP server (implicit TLS, STARTTLS or plain),
with text and HTML bodies and attachments from the files root. docs/dsl.md, "The email node".
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, parseaddr
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.errors import ErrorCategory, StepFailed
from hub.nodes._context import NodeContext
from hub.nodes._files import files_root, resolve_inside
from hub.nodes._registry import PoolConfig, node_type

MAX_ATTACHMENTS_BYTES = 25 * 2**20


class Attachment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1)
    filename: str | None = None
    content_type: str | None = None


class EmailParams(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    url: str = Field(min_length=1)
    security: Literal["tls", "starttls", "none"] | None = None
    ca_pem: str | None = None
    sender: str = Field(alias="from", min_length=3)
    to: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)
    subject: str = ""
    text: str | None = None
    html: str | None = None
    attachments: list[str | Attachment] = Field(default_factory=list, max_length=100)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=30.0, gt=0, le=600)

    @field_validator("to", "cc", "bcc", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _complete(self) -> EmailParams:
        if not (self.to or self.cc or self.bcc):
            raise ValueError("give at least one recipient in 'to', 'cc' or 'bcc'")
        if self.text is None and self.html is None:
            raise ValueError("give a body: 'text', 'html' or both")
        for address in [self.sender, *self.to, *self.cc, *self.bcc]:
            # At compile time an expression stands for an address: checked once resolved.
            if "{{" not in address and "@" not in parseaddr(address)[1]:
                raise ValueError(f"{address!r} is not an email address")
        return self


class Server(BaseModel):
    host: str
    port: int
    security: Literal["tls", "starttls", "none"]
    username: str | None = None
    password: str | None = None


def server_of(params: EmailParams) -> Server:
    """Where and how to connect: ``smtps://`` is implicit TLS (port 465), ``smtp://`` is
    STARTTLS (port 587) unless ``security`` says otherwise; user and password from the URL."""
    parts = urlsplit(params.url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise StepFailed(
            "url must be smtp://[user:password@]host[:port] or smtps://...",
            category=ErrorCategory.VALIDATION,
        )
    security = params.security or ("tls" if parts.scheme == "smtps" else "starttls")
    try:
        port = parts.port or (465 if security == "tls" else 587)
    except ValueError:
        raise StepFailed("url has a bad port", category=ErrorCategory.VALIDATION) from None
    return Server(
        host=parts.hostname,
        port=port,
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def build_message(params: EmailParams, message_id: str) -> EmailMessage:
    message = EmailMessage()
    for name, value in params.headers.items():
        message[name] = value
    message["From"] = params.sender
    if params.to:
        message["To"] = ", ".join(params.to)
    if params.cc:
        message["Cc"] = ", ".join(params.cc)
    message["Subject"] = params.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    if params.text is not None:
        message.set_content(params.text)
    if params.html is not None:
        if params.text is None:
            message.set_content(params.html, subtype="html")
        else:
            message.add_alternative(params.html, subtype="html")
    _attach(message, params.attachments)
    return message


def _attach(message: EmailMessage, attachments: list[str | Attachment]) -> None:
    root, total = files_root(), 0
    for item in attachments:
        spec = Attachment(path=item) if isinstance(item, str) else item
        path = resolve_inside(root, spec.path)
        if not path.is_file():
            raise StepFailed(
                f"attachment {spec.path!r} is not a file in the files root",
                category=ErrorCategory.NODE_ERROR,
            )
        data = path.read_bytes()
        total += len(data)
        if total > MAX_ATTACHMENTS_BYTES:
            raise StepFailed(
                f"attachments exceed {MAX_ATTACHMENTS_BYTES // 2**20} MB",
                category=ErrorCategory.RESOURCE_LIMIT,
            )
        kind = spec.content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        maintype, _, subtype = kind.partition("/")
        message.add_attachment(
            data,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=spec.filename or path.name,
        )


def message_id_for(key: str, sender: str) -> str:
    """Stable per attempt (the idempotency key): a step repeated after a crash sends the same
    Message-ID, which receivers can use to drop the copy."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "runtime-hub"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def send_message(params: EmailParams, message_id: str) -> dict[str, Any]:
    server = server_of(params)
    message = build_message(params, message_id)
    recipients = [a for _, a in getaddresses([*params.to, *params.cc, *params.bcc]) if a]
    where = f"{server.host}:{server.port}"
    context = ssl.create_default_context(cadata=params.ca_pem) if params.ca_pem else None
    try:
        smtp: smtplib.SMTP = (
            smtplib.SMTP_SSL(
                server.host,
                server.port,
                timeout=params.timeout_s,
                context=context or ssl.create_default_context(),
            )
            if server.security == "tls"
            else smtplib.SMTP(server.host, server.port, timeout=params.timeout_s)
        )
    except (OSError, smtplib.SMTPException) as exc:
        raise StepFailed(
            f"SMTP server {where}: cannot connect: {exc}",
            category=ErrorCategory.CONNECTION,
            retryable=True,
        ) from None
    try:
        with smtp:
            smtp.ehlo()
            if server.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise StepFailed(
                        f"SMTP server {where} does not offer STARTTLS; set security 'tls' "
                        "(smtps://) or, on a trusted network only, 'none'",
                        category=ErrorCategory.NODE_ERROR,
                    )
                smtp.starttls(context=context or ssl.create_default_context())
                smtp.ehlo()
            if server.username:
                smtp.login(server.username, server.password or "")
            refused = smtp.send_message(
                message, from_addr=parseaddr(params.sender)[1], to_addrs=recipients
            )
    except StepFailed:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise StepFailed(
            f"SMTP server {where} refused the login: {exc.smtp_code} {_text(exc.smtp_error)}",
            category=ErrorCategory.NODE_ERROR,
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise StepFailed(
            f"SMTP server {where} refused every recipient: {_refusals(exc.recipients)}",
            category=ErrorCategory.NODE_ERROR,
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise StepFailed(
            f"SMTP server {where} answered {exc.smtp_code} {_text(exc.smtp_error)}",
            category=ErrorCategory.NODE_ERROR,
            retryable=400 <= exc.smtp_code < 500,  # 4xx: try again later
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise StepFailed(
            f"SMTP server {where}: {exc}", category=ErrorCategory.CONNECTION, retryable=True
        ) from None
    accepted = [r for r in recipients if r not in refused]
    return {"message_id": message_id, "accepted": accepted, "refused": _refusals(refused)}


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _refusals(refused: dict[str, tuple[int, bytes]]) -> dict[str, str]:
    return {address: f"{code} {_text(text)}" for address, (code, text) in refused.items()}


@node_type("email", parameters=EmailParams, pool=PoolConfig(min_size=1, max_size=2))
async def run_email(params: EmailParams, ctx: NodeContext) -> Any:
    """Send an email through an SMTP server (TLS, STARTTLS or plain)."""
    message_id = message_id_for(ctx.idempotency_key, params.sender)
    return await asyncio.to_thread(send_message, params, message_id)
