#!/usr/bin/env python3
"""The lab's 'internet' services on one small HTTP server:
- GET /         the caller's source address and a newline, like https://checkip.amazonaws.com/;
- GET /lie /html /garbage /private /error /slow: echoes that misbehave, for egress tests;
- GET /idp      a stand-in SAML IdP: a sign-in page whose form posts a (short) assertion for the
                CRV1 `state` to the AWS client's assertion consumer, http://127.0.0.1:35001/
                (`&big=1` makes the assertion 4 KB, like a real one).
Exits by itself after an hour. `--verify-assertion STATE QUOTED` checks an assertion (for the
server's connect hook) and exits 0 when it is the one issued for STATE."""
import argparse
import base64
import html
import http.server
import sys
import threading
import time
import urllib.parse


def assertion(state, big=False):
    padding = ' padding="' + "x" * 4000 + '"' if big else ""
    return base64.b64encode(f'<Assertion user="alice" state="{state}"{padding}/>'.encode()).decode()


# Echo endpoints that misbehave, for egress tests: each (status, content type, body).
FAULTS = {
    "/lie": (200, "text/plain", b"203.0.113.99\n"),
    "/html": (200, "text/html", b"<html><body>Please sign in to the hotel Wi-Fi</body></html>"),
    "/garbage": (200, "application/octet-stream", bytes(range(0, 256, 7))),
    "/private": (200, "text/plain", b"10.1.2.3\n"),
    "/error": (503, "text/plain", b"unavailable\n"),
    "/slow": (200, "text/plain", b"203.0.113.10\n"),
}


class Lab(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/idp":
            q = urllib.parse.parse_qs(url.query)
            state = q.get("state", [""])[0]
            value = assertion(state, big="big" in q)
            body = (f'<!doctype html><html><body><h1>Lab IdP</h1><p>Signed in as alice.</p>'
                    f'<form method="post" action="http://127.0.0.1:35001/">'
                    f'<input type="hidden" name="SAMLResponse" value="{html.escape(value)}">'
                    f'<button id="signin">Continue</button></form></body></html>').encode()
            content_type = "text/html"
        elif url.path in FAULTS:
            status, content_type, body = FAULTS[url.path]
            if url.path == "/slow":
                time.sleep(10)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        else:
            body = (self.client_address[0] + "\n").encode()
            content_type = "text/plain"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--verify-assertion":
        state, quoted = sys.argv[2], sys.argv[3]
        try:
            decoded = base64.b64decode(urllib.parse.unquote(quoted)).decode()
        except Exception:
            sys.exit(1)
        sys.exit(0 if f'state="{state}"' in decoded and 'user="alice"' in decoded else 1)
    p = argparse.ArgumentParser()
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--lifetime", type=int, default=3600)
    a = p.parse_args()
    server = http.server.ThreadingHTTPServer((a.bind, a.port), Lab)
    threading.Timer(a.lifetime, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
