"""The service definitions under installers/ against what they start: every option they pass is
one the helper accepts (its own --help says), and the socket they make it listen on is the one
the CLI looks for on that OS without being told, so a fresh install connects."""
import plistlib
import re
import shlex
import subprocess

from conftest import BIN, ROOT

INSTALLERS = ROOT / "installers"
IPC = (ROOT / "crates" / "postern-ipc" / "src" / "lib.rs").read_text()


def helper_options():
    out = subprocess.run([str(BIN / "postern-helper"), "--help"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    return set(re.findall(r"--[a-z][a-z-]+", out))


def default_socket(cfg):
    """DEFAULT_SOCKET for the `#[cfg(...)]` whose text is `cfg`."""
    match = re.search(r"#\[cfg\(" + re.escape(cfg) + r"\)\]\npub const DEFAULT_SOCKET: &str = r?\"([^\"]+)\";", IPC)
    assert match, f"no DEFAULT_SOCKET for cfg({cfg})"
    return match.group(1)


def flags_and_socket(args):
    flags = [a for a in args if a.startswith("--")]
    socket = args[args.index("--socket") + 1] if "--socket" in args else None
    return flags, socket


def test_the_launchd_daemon_passes_known_options_and_listens_where_macos_clients_look():
    with open(INSTALLERS / "macos" / "com.postern.helper.plist", "rb") as f:
        plist = plistlib.load(f)
    assert plist["Label"] == "com.postern.helper"
    assert plist["RunAtLoad"] is True and plist["KeepAlive"] is True
    args = plist["ProgramArguments"]
    assert args[0] == "/Library/PrivilegedHelperTools/postern-helper"
    flags, socket = flags_and_socket(args[1:])
    assert set(flags) <= helper_options(), set(flags) - helper_options()
    assert socket == default_socket('target_os = "macos"')


def test_the_systemd_unit_passes_known_options_and_listens_where_linux_clients_look():
    unit = (INSTALLERS / "linux" / "postern-helper.service").read_text()
    exec_start = next(l.split("=", 1)[1] for l in unit.splitlines() if l.startswith("ExecStart="))
    args = shlex.split(exec_start)
    assert args[0] == "/usr/bin/postern-helper"
    flags, socket = flags_and_socket(args[1:])
    assert set(flags) <= helper_options(), set(flags) - helper_options()
    assert socket == default_socket('all(unix, not(target_os = "macos"))')


def test_the_windows_service_starts_the_helper_as_a_service_on_the_default_pipe():
    script = (INSTALLERS / "windows" / "postern.nsi").read_text()
    create = next(l for l in script.splitlines() if re.search(r'sc(\.exe)?"? create \$\{SERVICE\}', l))
    assert '--service"' in create or "--service " in create, create
    # No --socket: the service listens on the default pipe, where clients look.
    assert "--socket" not in create
    assert default_socket("windows") == r"\\.\pipe\postern-helper"
    # --service exists only in the Windows build; the others are shared.
    assert "--service" not in helper_options()
