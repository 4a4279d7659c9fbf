"""Local fake providers on 127.0.0.1, real sockets: an HTTP JSON gateway, the WeChat Official
Account API and an SMTP server. Each records what it received so tests can check it."""

from __future__ import annotations

import json
import socketserver
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


class FakeHttpServer:
    """Answers each request with `respond(received) -> (status, json)`; records every request."""

    def __init__(self, respond) -> None:
        self.respond = respond
        self.received: list[Received] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                received = Received(
                    method=self.command,
                    path=url.path,
                    query=dict(urllib.parse.parse_qsl(url.query)),
                    headers={key.lower(): value for key, value in self.headers.items()},
                    body=self.rfile.read(length),
                )
                fake.received.append(received)
                status, answer = fake.respond(received)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _handle
            do_POST = _handle

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeHttpServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeWeChat:
    """The two calls of the Official Account API we use, with expiring access tokens."""

    app_id = "wx-app-1"
    secret = "wx-secret-1"

    def __init__(self) -> None:
        self.tokens_issued = 0
        self.valid_token = ""
        self.send_answer: dict | None = None
        self.http = FakeHttpServer(self.respond)

    def expire_token(self) -> None:
        self.valid_token = ""

    def respond(self, received: Received):
        if received.method == "GET" and received.path == "/cgi-bin/token":
            expected = {"grant_type": "client_credential", "appid": self.app_id}
            if received.query.get("secret") != self.secret or any(
                received.query.get(k) != v for k, v in expected.items()
            ):
                return 200, {"errcode": 40013, "errmsg": "invalid appid"}
            self.tokens_issued += 1
            self.valid_token = f"TOKEN-{self.tokens_issued}"
            return 200, {"access_token": self.valid_token, "expires_in": 7200}
        if received.method == "POST" and received.path == "/cgi-bin/message/template/send":
            if not self.valid_token or received.query.get("access_token") != self.valid_token:
                return 200, {"errcode": 40001, "errmsg": "invalid credential"}
            if self.send_answer is not None:
                return 200, self.send_answer
            return 200, {"errcode": 0, "errmsg": "ok", "msgid": 200228332}
        return 404, {"errcode": 404}

    @property
    def sends(self) -> list[Received]:
        return [r for r in self.http.received if r.path == "/cgi-bin/message/template/send"]

    def __enter__(self) -> FakeWeChat:
        self.http.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.http.__exit__(*exc)


@dataclass
class Mail:
    mail_from: str
    rcpt_to: list[str]
    data: bytes = b""


@dataclass
class FakeSmtp:
    """A minimal SMTP server (RFC 5321 commands a client needs to hand over one message)."""

    messages: list[Mail] = field(default_factory=list)

    def __post_init__(self) -> None:
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 fake.smtp ESMTP")
                mail: Mail | None = None
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    command = line.decode().strip()
                    verb = command.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250 fake.smtp")
                    elif verb == "MAIL":
                        mail = Mail(mail_from=command.split(":", 1)[1].strip(" <>"), rcpt_to=[])
                        self.reply("250 OK")
                    elif verb == "RCPT" and mail is not None:
                        mail.rcpt_to.append(command.split(":", 1)[1].strip(" <>"))
                        self.reply("250 OK")
                    elif verb == "DATA" and mail is not None:
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        lines = []
                        while (data_line := self.rfile.readline()) not in (b".\r\n", b""):
                            lines.append(data_line)
                        mail.data = b"".join(lines)
                        fake.messages.append(mail)
                        self.reply("250 OK queued as 1")
                    elif verb == "RSET" or verb == "NOOP":
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 Bye")
                        return
                    else:
                        self.reply("502 Command not implemented")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def __enter__(self) -> FakeSmtp:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
