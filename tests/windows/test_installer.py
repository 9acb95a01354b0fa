"""The NSIS installer under wine: a silent install puts the CLI on the machine's PATH and the
helper in place as a running, automatically started service that postern.exe reaches on the
default pipe; a silent removal stops and deletes the service, takes the folder off PATH and
leaves nothing of Postern's but the organization's policy. Run by scripts/windows, which builds
the installer with makensis."""
import os
import pathlib
import subprocess
import tempfile
import time

import pytest

from test_cli import PREFIX, WINE, postern

INSTALLER = os.environ.get("POSTERN_INSTALLER", "")
INSTALLED = PREFIX / "drive_c" / "Program Files" / "Postern"
PROGRAM_DATA = PREFIX / "drive_c" / "ProgramData" / "Postern"
SERVICE_KEY = r"HKLM\System\CurrentControlSet\Services\postern-helper"
ENVIRONMENT_KEY = r"HKLM\System\CurrentControlSet\Control\Session Manager\Environment"

pytestmark = pytest.mark.skipif(
    not INSTALLER or not PREFIX.is_dir(), reason="run by scripts/windows (POSTERN_INSTALLER)")


def wine_quiet(*args, timeout=120):
    """A wine command whose output goes to files: wine's daemons may inherit its handles."""
    with tempfile.TemporaryFile("w+") as out:
        done = subprocess.run([WINE, *args], stdout=out, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)
        out.seek(0)
        return done.returncode, out.read()


def reg_value(key, value):
    code, out = wine_quiet("reg", "query", key, "/v", value)
    if code != 0:
        return None
    for line in out.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0].lower() == value.lower():
            return parts[2].strip()
    return None


def helper_answers():
    return postern("vpn", "status", "--json", unset=("POSTERN_HELPER_SOCKET",),
                   timeout=60).returncode == 0


def wait_until(what, done, within=30.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.3)
    pytest.fail(f"{what} within {within} s")


def test_a_silent_install_and_removal_leave_the_machine_as_it_was_but_the_policy():
    # Wine ends its services once no ordinary process is left: one waits at a prompt.
    holder = subprocess.Popen([WINE, "cmd", "/c", "pause"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # An entry that merely begins like the install folder must come through untouched.
        lookalike = r"C:\Program Files\Postern Tools"
        original = reg_value(ENVIRONMENT_KEY, "Path")
        if lookalike not in original.split(";"):
            code, out = wine_quiet("reg", "add", ENVIRONMENT_KEY, "/v", "Path", "/t", "REG_EXPAND_SZ",
                                   "/d", f"{original};{lookalike}", "/f")
            assert code == 0, out
        path_before = reg_value(ENVIRONMENT_KEY, "Path")
        assert lookalike in path_before.split(";"), path_before
        PROGRAM_DATA.mkdir(parents=True, exist_ok=True)
        policy = PROGRAM_DATA / "policy.toml"
        policy.write_text("# the organization's policy\n")

        code, out = wine_quiet(INSTALLER, "/S", timeout=300)
        assert code == 0, out
        for exe in ("postern.exe", "postern-helper.exe", "postern-app.exe", "uninstall.exe"):
            assert (INSTALLED / exe).is_file(), f"{exe} not installed: {list(INSTALLED.iterdir())}"
        shortcut = PREFIX / "drive_c" / "ProgramData" / "Microsoft" / "Windows" / "Start Menu" / "Programs" / "Postern.lnk"
        assert shortcut.is_file(), "no Start menu entry for the app"
        image = reg_value(SERVICE_KEY, "ImagePath")
        assert image and "postern-helper.exe" in image and "--service" in image, image
        # Automatic start (SERVICE_AUTO_START = 2), as LocalSystem.
        assert reg_value(SERVICE_KEY, "Start") == "0x2"
        path = reg_value(ENVIRONMENT_KEY, "Path")
        assert path.split(";").count(r"C:\Program Files\Postern") == 1, path
        # The installed service serves the default pipe, where postern.exe looks for it.
        wait_until("the installed helper answers on its default pipe", helper_answers)

        # Installing again replaces, and does not add PATH twice.
        code, out = wine_quiet(INSTALLER, "/S", timeout=300)
        assert code == 0, out
        path = reg_value(ENVIRONMENT_KEY, "Path")
        assert path.split(";").count(r"C:\Program Files\Postern") == 1, path
        wait_until("the reinstalled helper answers", helper_answers)

        # `_?=` runs the uninstaller in place and waits for it (it cannot delete itself then).
        code, out = wine_quiet(str(INSTALLED / "uninstall.exe"), "/S",
                               r"_?=C:\Program Files\Postern", timeout=300)
        assert code == 0, out
        wait_until("the removed helper is gone from its pipe", lambda: not helper_answers())
        # A service is deleted once its process has ended (until then it is marked for it).
        wait_until("the service is no longer registered",
                   lambda: reg_value(SERVICE_KEY, "ImagePath") is None)
        left = sorted(p.name for p in INSTALLED.iterdir()) if INSTALLED.exists() else []
        assert left in ([], ["uninstall.exe"]), left
        assert reg_value(ENVIRONMENT_KEY, "Path") == path_before
        assert policy.read_text() == "# the organization's policy\n"
        assert not (PROGRAM_DATA / "helper").exists(), "the helper's files were left"
        assert not shortcut.exists(), "the Start menu entry was left"
    finally:
        holder.kill()
        holder.wait(timeout=30)
