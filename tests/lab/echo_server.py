#!/usr/bin/env python3
"""The lab's checkip: answers GET / with the caller's source address and a newline, like
https://checkip.amazonaws.com/. Exits by itself after an hour."""
import argparse
import http.server
import threading


class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (self.client_address[0] + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--lifetime", type=int, default=3600)
    a = p.parse_args()
    server = http.server.ThreadingHTTPServer((a.bind, a.port), Echo)
    threading.Timer(a.lifetime, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
