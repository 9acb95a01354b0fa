"""Start at login on Windows, under wine: `postern.exe autostart` writes and removes the Run
value under HKEY_CURRENT_USER (read back with reg.exe, as Windows' shell reads it), and Group
Policy's values, as the ADMX template writes them, lock the setting or are reported when
malformed. Run by scripts/windows."""
import json
import pathlib
import xml.etree.ElementTree as ET

import pytest

from test_cli import EXE, postern, wine, windows_path

BAD_INPUT = 3
SETTING_LOCKED = 20
RUN_KEY = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run"
NS = {"p": "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"}
ADMX = pathlib.Path(__file__).resolve().parents[2] / "installers" / "windows" / "postern.admx"


def switch_policy(name):
    """The key, value and the enabled/disabled numbers the template writes for a switch."""
    (policy,) = [p for p in ET.parse(ADMX).getroot().iterfind(".//p:policy", NS)
                 if p.get("name") == name]
    enabled = policy.find("p:enabledValue/p:decimal", NS).get("value")
    disabled = policy.find("p:disabledValue/p:decimal", NS).get("value")
    return "HKLM\\" + policy.get("key"), policy.get("valueName"), enabled, disabled


def run_value():
    """The Run value as reg.exe reads it, or None."""
    done = wine("reg", "query", RUN_KEY, "/v", "Postern")
    if done.returncode != 0:
        return None
    line = next(l for l in done.stdout.splitlines() if "Postern" in l and "REG_SZ" in l)
    return line.split("REG_SZ", 1)[1].strip()


def autostart(*args):
    return postern("autostart", *args)


@pytest.fixture
def clean():
    wine("reg", "delete", RUN_KEY, "/v", "Postern", "/f")
    for name in ("StartAtLogin", "ConnectOnStart"):
        key, value, _, _ = switch_policy(name)
        wine("reg", "delete", key, "/v", value, "/f")
    yield
    wine("reg", "delete", RUN_KEY, "/v", "Postern", "/f")
    for name in ("StartAtLogin", "ConnectOnStart"):
        key, value, _, _ = switch_policy(name)
        wine("reg", "delete", key, "/v", value, "/f")


def test_enable_writes_the_run_value_for_the_app_beside_postern_and_disable_removes_it(clean):
    assert run_value() is None
    on = autostart("enable", "--json")
    assert on.returncode == 0, on.stderr
    report = json.loads(on.stdout)
    assert report["startAtLogin"]["value"] is True and report["startAtLogin"]["origin"] == "person"
    app = windows_path(pathlib.Path(EXE).with_name("postern-app.exe"))
    assert run_value() == f'"{app}" --at-login'
    assert report["loginItem"]["location"] == RUN_KEY + "\\Postern"
    assert report["loginItem"]["program"] == app
    off = autostart("disable", "--json")
    assert off.returncode == 0, off.stderr
    assert json.loads(off.stdout)["startAtLogin"]["value"] is False
    assert run_value() is None


def test_group_policy_locks_start_at_login_and_a_change_is_refused(clean):
    key, value, enabled, disabled = switch_policy("StartAtLogin")
    assert (enabled, disabled) == ("1", "0")
    assert wine("reg", "add", key, "/v", value, "/t", "REG_DWORD", "/d", disabled, "/f").returncode == 0
    status = json.loads(autostart("status", "--json").stdout)
    assert status["startAtLogin"] == {
        "value": False, "origin": "group-policy", "locked": True,
        "source": r"HKLM\SOFTWARE\Policies\Postern\StartAtLogin"}, status
    refused = autostart("enable")
    assert refused.returncode == SETTING_LOCKED, (refused.returncode, refused.stderr)
    assert "set by your organization (Group Policy)" in refused.stderr, refused.stderr
    assert run_value() is None, "nothing written"
    ckey, cvalue, cenabled, _ = switch_policy("ConnectOnStart")
    wine("reg", "add", ckey, "/v", cvalue, "/t", "REG_DWORD", "/d", cenabled, "/f")
    status = json.loads(autostart("status", "--json").stdout)
    assert status["connectOnStart"]["value"] is True and status["connectOnStart"]["locked"] is True


def test_a_group_policy_value_postern_cannot_use_is_an_error_not_a_guess(clean):
    key, value, _, _ = switch_policy("StartAtLogin")
    wine("reg", "add", key, "/v", value, "/t", "REG_DWORD", "/d", "5", "/f")
    run = autostart("status")
    assert run.returncode == BAD_INPUT, (run.returncode, run.stderr)
    assert "neither 0 (off) nor 1 (on)" in run.stderr, run.stderr
    wine("reg", "add", key, "/v", value, "/t", "REG_SZ", "/d", "yes", "/f")
    run = autostart("enable")
    assert run.returncode == BAD_INPUT, (run.returncode, run.stderr)
    assert "not a number" in run.stderr, run.stderr
    assert run_value() is None
