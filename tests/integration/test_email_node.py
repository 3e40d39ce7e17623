"""The ``email`` node against a real SMTP server started here (aiosmtpd): login, headers, both
bodies and an attachment from the files root, STARTTLS with the server's own certificate, and
the errors a user meets. The last test sends through the session's runtime with the server's
URL (and its password) in a credential."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

import hub
from hub import ExecutionStatus
from hub.errors import StepFailed
from tests.conftest import free_port, run_node

USER, PASSWORD = "mailer", "p@ss word/" + uuid.uuid4().hex[:6]


@dataclass
class Mailbox:
    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


def self_signed() -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
def files_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "files"
    monkeypatch.setenv("HUB_FILES_ROOT", str(root))
    return root


@pytest.fixture
def plain_server() -> Iterator[tuple[Mailbox, int]]:
    """SMTP with login over a plain connection (as on a trusted local relay)."""
    box, port = Mailbox(), free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Mailbox, int, str]]:
    """SMTP that requires STARTTLS before anything else, with a self-signed certificate."""
    import ssl

    cert, key = self_signed()
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    box, port = Mailbox(), free_port()
    controller = Controller(
        box,
        hostname="localhost",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
    )
    controller.start()
    yield box, port, cert.decode()
    controller.stop()


def url(port: int, host: str = "127.0.0.1") -> str:
    from urllib.parse import quote

    return f"smtp://{USER}:{quote(PASSWORD, safe='')}@{host}:{port}"


def test_a_message_with_both_bodies_and_an_attachment_is_delivered(
    files_root: Path, plain_server: tuple[Mailbox, int]
) -> None:
    box, port = plain_server
    run_node("file.write", path="reports/q1.csv", content="a,b\n1,2\n")
    out = run_node(
        "email",
        url=url(port),
        security="none",
        **{"from": "Runtime Hub <hub@example.org>"},
        to=["ada@example.org"],
        cc="grace@example.org",
        bcc=["audit@example.org"],
        subject="Quarterly report ✓",
        text="See the attachment.",
        html="<p>See the <b>attachment</b>.</p>",
        attachments=["reports/q1.csv", {"path": "reports/q1.csv", "filename": "copy.csv"}],
        headers={"Reply-To": "ops@example.org"},
    )
    [(sender, recipients, message)] = box.messages
    assert sender == "hub@example.org"
    assert recipients == ["ada@example.org", "grace@example.org", "audit@example.org"]
    assert out["accepted"] == recipients and out["refused"] == {}
    assert message["Message-ID"] == out["message_id"] and out["message_id"].endswith(
        "@example.org>"
    )
    assert message["Subject"] == "Quarterly report ✓" and message["Reply-To"] == "ops@example.org"
    assert message["To"] == "ada@example.org" and message["Cc"] == "grace@example.org"
    assert "Bcc" not in message  # blind copies travel in the envelope only
    bodies = {part.get_content_type(): part for part in message.walk()}
    assert bodies["text/plain"].get_content().strip() == "See the attachment."
    assert "<b>attachment</b>" in bodies["text/html"].get_content()
    files = [(p.get_filename(), p.get_content()) for p in message.iter_attachments()]
    assert files == [("q1.csv", "a,b\n1,2\n"), ("copy.csv", "a,b\n1,2\n")]


def test_starttls_with_the_servers_certificate(
    files_root: Path, tls_server: tuple[Mailbox, int, str]
) -> None:
    box, port, cert = tls_server
    params = {
        "url": url(port, host="localhost"),
        "from": "hub@example.org",
        "to": "ada@example.org",
        "subject": "over TLS",
        "text": "hello",
    }
    with pytest.raises(StepFailed, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        run_node("email", **params)  # the self-signed certificate is not trusted by default
    assert not box.messages
    out = run_node("email", **params, ca_pem=cert)
    assert out["accepted"] == ["ada@example.org"] and box.messages[0][2]["Subject"] == "over TLS"


def test_errors_name_the_problem_and_never_the_password(
    files_root: Path, plain_server: tuple[Mailbox, int]
) -> None:
    _, port = plain_server
    base = {"from": "hub@example.org", "to": "ada@example.org", "text": "x", "security": "none"}
    with pytest.raises(StepFailed) as refused:
        run_node("email", url=f"smtp://{USER}:wrong-{PASSWORD[:4]}@127.0.0.1:{port}", **base)
    assert refused.value.category == "node_error" and "refused the login" in str(refused.value)
    with pytest.raises(StepFailed) as down:
        run_node("email", url=url(free_port()), **base)
    assert down.value.category == "connection" and down.value.retryable
    assert PASSWORD not in str(down.value) and PASSWORD not in str(refused.value)
    with pytest.raises(StepFailed, match="does not offer STARTTLS"):
        run_node("email", url=url(port), **{**base, "security": "starttls"})
    with pytest.raises(StepFailed, match="not an email address"):
        run_node("email", url=url(port), **{**base, "to": "nobody"})
    with pytest.raises(StepFailed, match="files root"):
        run_node("email", url=url(port), **base, attachments=["../../etc/passwd"])


@pytest.mark.ray
def test_a_workflow_sends_with_the_server_in_a_credential(
    runtime: hub.Client, api: Any, plain_server: tuple[Mailbox, int]
) -> None:
    box, port = plain_server
    name = f"mail_{uuid.uuid4().hex[:8]}"
    assert api.put(f"/credentials/{name}", json={"value": url(port)}).status_code == 204
    doc = {
        "id": f"mail-{uuid.uuid4().hex[:8]}",
        "inputs": {"who": {"type": "string", "required": True}},
        "nodes": [
            {
                "id": "send",
                "type": "email",
                "parameters": {
                    "url": f"{{{{ $credential.{name} }}}}",
                    "security": "none",
                    "from": "hub@example.org",
                    "to": "{{ $input.who }}",
                    "subject": "Hello {{ $input.who }}",
                    "text": "Sent by {{ $execution.id }}",
                },
            }
        ],
    }
    final = runtime.run(doc, {"who": "ada@example.org"}, timeout_s=120)
    assert final.status == ExecutionStatus.COMPLETED, final.error
    [(_, recipients, message)] = box.messages
    assert recipients == ["ada@example.org"] and message["Subject"] == "Hello ada@example.org"
    assert final.id in message.get_content()
    assert final.outputs["send"]["message_id"] == message["Message-ID"]
