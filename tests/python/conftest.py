"""Shared fixtures: the Identity Center emulator and the postern binary, both from target/debug."""
import json
import os
import pathlib
import subprocess
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("POSTERN_BIN_DIR", ROOT / "target" / "debug"))


class Emulator:
    def __init__(self, start_url, *extra):
        self.start_url = start_url
        self.proc = subprocess.Popen(
            [str(BIN / "postern-idc-emulator"), "--start-url", start_url, "--lifetime", "300", *extra],
            stdout=subprocess.PIPE, text=True)
        banner = self.proc.stdout.readline().strip()
        assert banner.startswith("listening "), banner
        self.url = banner.split(" ", 1)[1]

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def knobs(self, **patch):
        return self._call("POST", "/_emulator/knobs", patch)

    def stats(self):
        return self._call("GET", "/_emulator/stats")

    def issued(self):
        return self._call("GET", "/_emulator/credentials")

    def approve(self, user_code):
        data = f"user_code={user_code}&decision=approve".encode()
        with urllib.request.urlopen(self.url + "/device", data=data, timeout=10) as r:
            assert b"approved" in r.read()

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def emulator(request):
    e = Emulator(f"https://{request.node.name.replace('_', '-')[:40]}.awsapps.com/start")
    yield e
    e.stop()


@pytest.fixture
def emulator_factory(request):
    """Emulators with extra arguments (for example --nat-address), stopped after the test."""
    started = []

    def start(*extra):
        e = Emulator(f"https://{request.node.name.replace('_', '-')[:30]}-{len(started)}.awsapps.com/start", *extra)
        started.append(e)
        return e
    yield start
    for e in started:
        e.stop()
