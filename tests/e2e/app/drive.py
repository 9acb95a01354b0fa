#!/usr/bin/env python3
"""Drives the real Postern window through WebKitWebDriver (W3C WebDriver, stdlib only), inside the
lab's laptop namespace: sign in, Connect, see Ready and the Elastic IP, lose the VPN server, see
the blocked state with its reason. In each state it audits the window with axe-core (the page
as the app shows it, in the light and the dark scheme, switched the way a desktop switches it:
XSETTINGS) and saves a screenshot of each. Every wait is bounded.
With the profile name SAML_PROFILE it connects that profile instead: after the Identity Center
code, the window asks for the VPN's own sign-in; the page it links is opened in the lab's browser
as the person would, and the run ends at Ready.

usage: drive.py WEBDRIVER_URL APP_BINARY SHOTS_DIR AWS_URL LAB_SCRIPT [SAML_PROFILE]
The environment names the axe-core script (AXE_SCRIPT), and the xsettingsd serving the display
with its configuration (XSETTINGSD_PID, XSETTINGSD_CONF).
Prints one JSON line per observation, for the Rust test to assert on.
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

WD, APP, SHOTS, AWS, LAB = sys.argv[1:6]
SAML_PROFILE = sys.argv[6] if len(sys.argv) > 6 else None
AXE = open(os.environ["AXE_SCRIPT"]).read()
XSETTINGSD = int(os.environ["XSETTINGSD_PID"])
XSETTINGS_CONF = os.environ["XSETTINGSD_CONF"]


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
      const primary = document.getElementById('primary');
      return {indicator: s.dataset.indicator || null, state: s.dataset.state || null,
              headline: text('headline'), reason: text('reason'), nextStep: text('next-step'),
              code: text('sign-in-code'), egress: document.getElementById('egress').textContent,
              signInShown: !document.getElementById('sign-in').hidden,
              signInUrl: document.getElementById('sign-in-url').textContent,
              account: document.getElementById('target-account').textContent,
              role: document.getElementById('target-role').textContent,
              protectedShown: !document.getElementById('protected').hidden,
              primary: primary.hidden ? null : primary.dataset.action,
              primaryText: primary.hidden ? null : primary.textContent,
              steps: [...document.querySelectorAll('#steps li')].map(li =>
                li.dataset.step + ':' + li.dataset.status),
              stepReasons: [...document.querySelectorAll('#steps .step-reason')].map(p => p.textContent)};""")


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


def scheme(dark):
    """Switches the desktop's theme as a desktop does (XSETTINGS), and waits until the window
    follows it."""
    with open(XSETTINGS_CONF, "w") as conf:
        conf.write('Net/ThemeName "%s"\n' % ("Adwaita-dark" if dark else "Adwaita"))
    os.kill(XSETTINGSD, signal.SIGHUP)
    poll("the window's colour scheme", lambda: js(
        "return matchMedia('(prefers-color-scheme: dark)').matches;"), lambda d: d == dark, 20)


def audit(name):
    """axe-core's audit of the window as it is, with what it finds of moderate impact or worse."""
    if not js("return typeof axe !== 'undefined';"):
        js(AXE + "\nreturn true;")
    found = call("POST", S + "/execute/async", {"script": """const done = arguments[arguments.length - 1];
      axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations
        .filter(v => ['moderate', 'serious', 'critical'].includes(v.impact))
        .map(v => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map(n => n.target.join(' '))}))), e => done([{id: 'axe-failed', impact: 'critical', help: String(e), nodes: []}]));""", "args": []})
    return found


def capture(number, name, state_name, top=True):
    """A state in both schemes: audited, then photographed, light first; from the top of the
    window unless the state is further down (diagnostics)."""
    js("if (document.activeElement) document.activeElement.blur();"
       + ("window.scrollTo(0, 0);" if top else ""))
    for dark in (False, True):
        scheme(dark)
        label = "dark" if dark else "light"
        observe(step="audit", state=state_name, scheme=label, violations=audit(name))
        screenshot(f"{number}-{name}{'-dark' if dark else ''}.png")
    scheme(False)


def focus_order():
    """What Tab reaches, in order, and whether each is visible with a focus ring. The window
    first gets the focus, as a window manager gives it (there is none on this display)."""
    subprocess.run(["xdotool", "search", "--name", "^Postern$", "windowfocus", "--sync"],
                   check=True, capture_output=True, timeout=20)
    poll("the window's focus", lambda: js("return document.hasFocus();"), bool, 10)
    reached = []
    for _ in range(40):
        call("POST", S + "/actions", {"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": "\ue004"}, {"type": "keyUp", "value": "\ue004"}]}]})
        here = js("""const e = document.activeElement; if (!e || e === document.body) return null;
          const r = e.getBoundingClientRect(); const style = getComputedStyle(e);
          return {id: e.id || e.tagName.toLowerCase() + ':' + e.textContent.trim().slice(0, 20),
                  visible: r.width > 0 && r.height > 0 && style.visibility !== 'hidden',
                  ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2};""")
        if here is None or (reached and here["id"] == reached[0]["id"]):
            break
        reached.append(here)
    return reached


try:
    s = wait_for("the first state", lambda s: s["state"] == "idle", 30)
    observe(step="idle", **s)
    if not SAML_PROFILE:
        observe(step="focus", order=focus_order())
        capture(1, "not-connected", "idle")

    if SAML_PROFILE:
        js(f"document.getElementById('profile').value = '{SAML_PROFILE}';")
    click("#primary")
    s = wait_for("the sign-in code", lambda s: s["code"], 30)
    observe(step="sign-in", **s)
    if not SAML_PROFILE:
        capture(2, "sign-in", "signing-in")
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
    # The account's name comes from the portal after the sign-in.
    s = wait_for("the account's name", lambda s: "·" in s["account"], 20)
    observe(step="named", **s)
    js("document.getElementById('posture').open = false; document.getElementById('network').open = false;")
    capture(3, "ready", "ready")

    subprocess.run([LAB, "server", "stop"], check=True, capture_output=True)
    s = wait_for("the VPN drop", lambda s: s["indicator"] in ("warning", "blocked"), 30)
    observe(step="dropped", **s)
    capture(4, "vpn-dropped", s["state"])
    s = wait_for("Blocked", lambda s: s["indicator"] == "blocked", 60)
    observe(step="blocked", **s)
    capture(5, "blocked", "blocked")

    # A command the moment does not allow comes back as its typed cause, sentence and next
    # step, shown where the window shows command errors: the main button, told to open a
    # sign-in page that is not waiting.
    js("const p = document.getElementById('primary'); p.dataset.action = 'sign-in'; p.click();")
    refused = poll("the refusal", text_of("command-error"), bool, 20)
    observe(step="refused", text=refused)

    # Copy details: what the helpdesk gets, read back from the display's clipboard.
    click("#copy-details")
    copied = poll("the copy", text_of("copy-result"), bool, 20)
    clipboard = subprocess.run(["xclip", "-o", "-selection", "clipboard"], capture_output=True,
                               text=True, timeout=20).stdout
    observe(step="copied", text=copied, clipboard=clipboard)

    # Help: the bundle's files are listed before anything is saved, then saved.
    js("document.getElementById('diagnostics').open = true;")
    click("#preview-diagnostics")
    rows = poll("the bundle's files", texts_of("#bundle-files tr"), bool, 60)
    observe(step="preview", rows=[r.strip() for r in rows])
    js("document.getElementById('diagnostics').scrollIntoView();")
    capture(6, "diagnostics", "diagnostics", top=False)
    click("#export-diagnostics")
    saved = poll("the saved bundle", text_of("export-result"), lambda t: t.startswith("Saved"), 60)
    observe(step="saved", text=saved)
finally:
    try:
        call("DELETE", S)
    except OSError:
        pass
