#!/usr/bin/env python3
"""Drives the real Postern window through WebKitWebDriver (W3C WebDriver, stdlib only), inside the
lab's laptop namespace: sign in, Connect, see Ready and the Elastic IP, lose the VPN server, see
the blocked state with its reason. Saves a screenshot of each state. Every wait is bounded.
With the profile name SAML_PROFILE it connects that profile instead: after the Identity Center
code, the window asks for the VPN's own sign-in; the page it links is opened in the lab's browser
as the person would, and the run ends at Ready.

usage: drive.py WEBDRIVER_URL APP_BINARY SHOTS_DIR AWS_URL LAB_SCRIPT [SAML_PROFILE]
Prints one JSON line per observation, for the Rust test to assert on.
"""
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request

WD, APP, SHOTS, AWS, LAB = sys.argv[1:6]
SAML_PROFILE = sys.argv[6] if len(sys.argv) > 6 else None


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(WD + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["value"]


def observe(**facts):
    print(json.dumps(facts), flush=True)


session = None
for attempt in range(50):  # WebKitWebDriver may still be starting
    try:
        session = call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "webkitgtk:browserOptions": {"binary": APP, "args": []}}}})["sessionId"]
        break
    except OSError:
        time.sleep(0.2)
if session is None:
    sys.exit("WebKitWebDriver did not start a session")
S = f"/session/{session}"


def js(script, *args):
    return call("POST", S + "/execute/sync", {"script": script, "args": list(args)})


def state():
    return js("""const s = document.getElementById('status');
      const text = id => { const e = document.getElementById(id); return e.hidden ? null : e.textContent; };
      return {indicator: s.dataset.indicator || null, state: s.dataset.state || null,
              headline: text('headline'), reason: text('reason'), nextStep: text('next-step'),
              code: text('sign-in-code'), egress: document.getElementById('egress').textContent,
              signInShown: !document.getElementById('sign-in').hidden,
              signInUrl: document.getElementById('sign-in-url').textContent,
              target: document.getElementById('target').textContent,
              protectedShown: !document.getElementById('protected').hidden};""")


def poll(what, probe, done, seconds):
    """Calls probe until done(its value), for at most `seconds`; returns the value."""
    deadline = time.time() + seconds
    last = None
    while time.time() < deadline:
        last = probe()
        if done(last):
            return last
        time.sleep(0.1)
    sys.exit(f"timed out waiting for {what}; last seen: {last}")


def wait_for(what, predicate, seconds):
    return poll(what, state, predicate, seconds)


def text_of(element_id):
    return lambda: js(f"return document.getElementById('{element_id}').textContent;")


def texts_of(css):
    return lambda: js(f"return [...document.querySelectorAll('{css}')].map(e => e.className + ' ' + e.textContent);")


def click(css):
    element = call("POST", S + "/element", {"using": "css selector", "value": css})
    call("POST", S + "/element/" + next(iter(element.values())) + "/click", {})


def screenshot(name):
    """What is on the display, as a person sees it (the window sits at the top left with no
    window manager). WebKit's own snapshot needs GL, which the app turns off to save memory."""
    time.sleep(0.3)  # let the last DOM change paint
    subprocess.run(["import", "-display", os.environ["DISPLAY"], "-window", "root",
                    "-crop", "520x720+0+0", "+repage", os.path.join(SHOTS, name)],
                   check=True, capture_output=True, timeout=20)


try:
    s = wait_for("the first state", lambda s: s["state"] == "idle", 30)
    observe(step="idle", **s)
    screenshot("1-not-connected.png")

    if SAML_PROFILE:
        js(f"document.getElementById('profile').value = '{SAML_PROFILE}';")
    click("#connect")
    s = wait_for("the sign-in code", lambda s: s["code"], 30)
    observe(step="sign-in", **s)
    screenshot("2-sign-in.png")
    form = urllib.parse.urlencode({"user_code": s["code"], "decision": "approve"}).encode()
    with urllib.request.urlopen(AWS + "/device", data=form, timeout=10) as r:
        assert b"approved" in r.read()

    if SAML_PROFILE:
        s = wait_for("the VPN sign-in", lambda s: s["state"] in ("vpn-sign-in", "blocked"), 60)
        observe(step="vpn-sign-in", **s)
        screenshot("saml-1-vpn-sign-in.png")
        browser = os.path.join(os.path.dirname(LAB), "lab-browser")
        subprocess.run([browser, s["signInUrl"]], check=True, timeout=20)
        s = wait_for("Ready", lambda s: s["indicator"] in ("ready", "blocked"), 60)
        observe(step="ready", **s)
        screenshot("saml-2-ready.png")
        sys.exit(0)

    s = wait_for("Ready", lambda s: s["indicator"] in ("ready", "blocked"), 90)
    observe(step="ready", **s)
    if s["indicator"] != "ready":
        sys.exit(f"Connect did not reach Ready: {s}")
    # The posture checklist and the network check, as a person would open them.
    js("document.getElementById('posture').open = true; document.getElementById('network').open = true;")
    # One at a time, as a person would: each answer changes the layout under the next button.
    click("#check-posture")
    checks = poll("the posture checklist", texts_of("#checks li"), bool, 30)
    click("#check-egress")
    match = poll("the network check", text_of("egress-match"), lambda m: m in ("yes", "no"), 30)
    observe(step="checks", checks=checks, natMatch=match,
            address=text_of("egress-address")(), error=text_of("command-error")())
    screenshot("3-ready.png")

    subprocess.run([LAB, "server", "stop"], check=True, capture_output=True)
    s = wait_for("the VPN drop", lambda s: s["indicator"] in ("warning", "blocked"), 30)
    observe(step="dropped", **s)
    screenshot("4-vpn-dropped.png")
    s = wait_for("Blocked", lambda s: s["indicator"] == "blocked", 60)
    observe(step="blocked", **s)
    screenshot("5-blocked.png")

    # A command the moment does not allow comes back as its typed cause, sentence and next
    # step, shown where the window shows command errors.
    js("document.getElementById('open-sign-in').click();")
    refused = poll("the refusal", text_of("command-error"), bool, 20)
    observe(step="refused", text=refused)

    # Help: the bundle's files are listed before anything is saved, then saved.
    js("document.getElementById('diagnostics').open = true;")
    click("#preview-diagnostics")
    rows = poll("the bundle's files", texts_of("#bundle-files tr"), bool, 60)
    observe(step="preview", rows=[r.strip() for r in rows])
    js("document.getElementById('diagnostics').scrollIntoView();")
    screenshot("6-diagnostics.png")
    click("#export-diagnostics")
    saved = poll("the saved bundle", text_of("export-result"), lambda t: t.startswith("Saved"), 60)
    observe(step="saved", text=saved)
finally:
    try:
        call("DELETE", S)
    except OSError:
        pass
