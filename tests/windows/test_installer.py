"""The NSIS installer under wine: a silent install puts the CLI on the machine's PATH and the
helper in place as a running, automatically started service that postern.exe reaches on the
default pipe; a silent removal stops and deletes the service, takes the folder off PATH and
leaves nothing of Postern's but the organization's policy. Run by scripts/windows, which builds
the installer with makensis."""
import os

import pytest

from conftest import PREFIX, run_wine, wait_until
from test_cli import postern

INSTALLER = os.environ.get("POSTERN_INSTALLER", "")
INSTALLED = PREFIX / "drive_c" / "Program Files" / "Postern"
PROGRAM_DATA = PREFIX / "drive_c" / "ProgramData" / "Postern"
SERVICE_KEY = r"HKLM\System\CurrentControlSet\Services\postern-helper"
ENVIRONMENT_KEY = r"HKLM\System\CurrentControlSet\Control\Session Manager\Environment"
ORGANIZATION_POLICY = ('# the organization\'s policy\n[identity_center]\n'
                       'start_url = "https://my-org.awsapps.com/start"\nregion = "eu-west-1"\n')
RUN_KEY = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run"

pytestmark = pytest.mark.skipif(
    not INSTALLER or not PREFIX.is_dir(), reason="run by scripts/windows (POSTERN_INSTALLER)")


def reg_value(key, value):
    done = run_wine("reg", "query", key, "/v", value)
    if done.returncode != 0:
        return None
    for line in done.stdout.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0].lower() == value.lower():
            return parts[2].strip()
    return None


def helper_answers():
    return postern("vpn", "status", "--json", unset=("POSTERN_HELPER_SOCKET",),
                   timeout=60).returncode == 0


def test_a_silent_install_and_removal_leave_the_machine_as_it_was_but_the_policy():
    # An entry that merely begins like the install folder must come through untouched.
    lookalike = r"C:\Program Files\Postern Tools"
    original = reg_value(ENVIRONMENT_KEY, "Path")
    if lookalike not in original.split(";"):
        done = run_wine("reg", "add", ENVIRONMENT_KEY, "/v", "Path", "/t", "REG_EXPAND_SZ",
                        "/d", f"{original};{lookalike}", "/f")
        assert done.returncode == 0, done.stdout + done.stderr
    path_before = reg_value(ENVIRONMENT_KEY, "Path")
    assert lookalike in path_before.split(";"), path_before
    PROGRAM_DATA.mkdir(parents=True, exist_ok=True)
    policy = PROGRAM_DATA / "policy.toml"
    policy.write_text(ORGANIZATION_POLICY)

    done = run_wine(INSTALLER, "/S", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    for exe in ("postern.exe", "postern-credentials.exe", "postern-helper.exe", "postern-app.exe", "uninstall.exe"):
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
    done = run_wine(INSTALLER, "/S", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    path = reg_value(ENVIRONMENT_KEY, "Path")
    assert path.split(";").count(r"C:\Program Files\Postern") == 1, path
    wait_until("the reinstalled helper answers", helper_answers)

    # Start at login, turned on with the installed CLI: the Run value names the installed app.
    installed_cli = run_wine(str(INSTALLED / "postern.exe"), "autostart", "enable")
    assert installed_cli.returncode == 0, installed_cli.stdout + installed_cli.stderr
    assert reg_value(RUN_KEY, "Postern") == r'"C:\Program Files\Postern\postern-app.exe" --at-login'

    # `_?=` runs the uninstaller in place and waits for it (it cannot delete itself then).
    done = run_wine(str(INSTALLED / "uninstall.exe"), "/S",
                           r"_?=C:\Program Files\Postern", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    wait_until("the removed helper is gone from its pipe", lambda: not helper_answers())
    # A service is deleted once its process has ended (until then it is marked for it).
    wait_until("the service is no longer registered",
               lambda: reg_value(SERVICE_KEY, "ImagePath") is None)
    def left():
        return sorted(p.name for p in INSTALLED.iterdir()) if INSTALLED.exists() else []
    # A file another process still has open is only marked for deletion, and stays listed until
    # that process lets go (Windows' delete-pending; wine does the same).
    wait_until("the installed files are gone", lambda: left() in ([], ["uninstall.exe"]))
    assert reg_value(ENVIRONMENT_KEY, "Path") == path_before
    assert policy.read_text() == ORGANIZATION_POLICY
    assert not (PROGRAM_DATA / "helper").exists(), "the helper's files were left"
    assert not shortcut.exists(), "the Start menu entry was left"
    assert reg_value(RUN_KEY, "Postern") is None, "start at login was left behind"
