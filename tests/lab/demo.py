#!/usr/bin/env python3
"""The built-in lab demo: what an employee's Connect does, against lab parts on this machine.
Step 1 (this issue): sign in to the Identity Center emulator with the device code, approved in
headless Chromium, tokens in the keychain; then whoami and accounts."""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/debug").resolve()


def approve_in_chromium(url):
    """Opens the verification page in headless Chromium and clicks Allow (WebDriver)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    driver = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"

    def call(method, path, body=None):
        req = urllib.request.Request(base + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())["value"]

    try:
        with tempfile.TemporaryDirectory() as profile:
            for _ in range(100):
                try:
                    session = call("POST", "/session", {"capabilities": {"alwaysMatch": {
                        "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": [
                            "--headless=new", "--no-sandbox", "--disable-gpu",
                            "--disable-background-networking", "--disable-component-update",
                            "--disable-sync", "--no-first-run", f"--user-data-dir={profile}"]}}}})
                    break
                except OSError:
                    time.sleep(0.1)
            sid = session["sessionId"]
            call("POST", f"/session/{sid}/url", {"url": url})
            button = call("POST", f"/session/{sid}/element", {"using": "css selector", "value": "#approve"})
            call("POST", f"/session/{sid}/element/{list(button.values())[0]}/click", {})
            call("DELETE", f"/session/{sid}")
    finally:
        driver.kill()
        driver.wait()


def main():
    emulator = subprocess.Popen([str(BIN / "postern-idc-emulator"), "--lifetime", "600"],
                                stdout=subprocess.PIPE, text=True)
    url = emulator.stdout.readline().split()[1]
    home = tempfile.mkdtemp(prefix="postern-lab-")
    policy = pathlib.Path(home) / "policy.toml"
    policy.write_text(f'[identity_center]\nstart_url = "https://lab.awsapps.com/start"\n'
                      f'region = "eu-west-1"\noidc_endpoint = "{url}"\nportal_endpoint = "{url}"\n')
    env = dict(os.environ, POSTERN_POLICY=str(policy), HOME=home, BROWSER="/bin/false")
    try:
        print(f"lab: Identity Center emulator at {url}; policy {policy}")
        login = subprocess.Popen([str(BIN / "postern"), "login", "--device-code", "--no-browser"],
                                 env=env, stderr=subprocess.PIPE, text=True)
        for line in login.stderr:
            print(line, end="")
            if line.startswith("Open: "):
                approve_url = line.split(" ", 1)[1].strip()
            if line.startswith("Waiting"):
                print("lab: approving in headless Chromium...")
                approve_in_chromium(approve_url)
                break
        for line in login.stderr:
            print(line, end="")
        if login.wait(timeout=60) != 0:
            return 1
        for args in (["whoami"], ["accounts"]):
            print(f"\n$ postern {' '.join(args)}")
            subprocess.run([str(BIN / "postern"), *args], env=env, check=True)
        subprocess.run([str(BIN / "postern"), "logout"], env=env, check=True)
        return 0
    finally:
        emulator.kill()
        emulator.wait()


if __name__ == "__main__":
    sys.exit(main())
