"""postern-helper.exe as a Windows service under wine's service manager: installed with
`sc create`, started, driven by postern.exe over its named pipe, stopped and deleted. OpenVPN is
a stand-in (wine has no tunnel driver) that dials the helper's management port and plays
transcripts recorded from a real OpenVPN: the tunnel reaches Connected, and the server's deny
reason reaches the user. Run by scripts/windows."""
import json
import os
import subprocess
import uuid

import pytest

from conftest import PREFIX, WINE, run_wine, wait_until
from test_cli import postern, profile_text, pki, windows_path  # noqa: F401 (pki: a fixture)

HELPER = os.environ.get("POSTERN_HELPER_EXE", "")
STAND_IN = os.environ.get("POSTERN_OPENVPN_STAND_IN", "")
VPN_FAILED = 9

pytestmark = pytest.mark.skipif(
    not HELPER or not STAND_IN or not PREFIX.is_dir(),
    reason="run by scripts/windows (POSTERN_HELPER_EXE, POSTERN_OPENVPN_STAND_IN, WINEPREFIX)")


def sc(*args):
    return run_wine("sc", *args, timeout=60)


def helper_answers(pipe):
    """Whether a helper serves `pipe` (wine's sc has no `query`: its status is what it does)."""
    status = postern("vpn", "status", "--json", env={"POSTERN_HELPER_SOCKET": pipe}, timeout=60)
    return status.returncode == 0


@pytest.fixture(scope="module")
def service():
    """The helper installed and running as a service of its own name and pipe."""
    tag = uuid.uuid4().hex[:8]
    name = f"postern-helper-{tag}"
    pipe = rf"\\.\pipe\postern-helper-{tag}"
    state_dir = rf"C:\ProgramData\Postern\test-{tag}\tunnel"
    command = (f'"{windows_path(HELPER)}" --service --socket {pipe} '
               f'--openvpn "{windows_path(STAND_IN)}" --state-dir {state_dir}')
    created = sc("create", name, "binPath=", command)
    assert created.returncode == 0, created.stdout + created.stderr
    try:
        started = sc("start", name)
        assert started.returncode == 0, started.stdout + started.stderr
        wait_until("the service serves its pipe", lambda: helper_answers(pipe))
        yield {"name": name, "pipe": pipe, "state_dir": state_dir, "tag": tag}
    finally:
        stopped = sc("stop", name)
        wait_until("the stopped service leaves its pipe", lambda: not helper_answers(pipe))
        sc("delete", name)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def import_profile(pki, name, remote):
    text = profile_text(pki).replace(
        "remote cvpn-endpoint-0123456789abcdef0.prod.clientvpn.eu-west-1.amazonaws.com 443",
        f"remote {remote} 443")
    path = PREFIX / "drive_c" / f"{name}.ovpn"
    path.write_text(text)
    imported = postern("vpn", "import", rf"C:\{name}.ovpn", "--name", name)
    assert imported.returncode == 0, imported.stderr
    path.unlink()


def test_the_service_serves_its_pipe_owned_by_administrators(service):
    status = postern("vpn", "status", "--json", env={"POSTERN_HELPER_SOCKET": service["pipe"]})
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["state"] == "disconnected", status.stdout


def test_a_tunnel_reaches_connected_and_disconnects(service, pki):
    name = f"corp-{service['tag']}"
    import_profile(pki, name, "cvpn-endpoint-0123456789abcdef0.prod.clientvpn.eu-west-1.amazonaws.com")
    env = {"POSTERN_HELPER_SOCKET": service["pipe"]}
    up = postern("vpn", "connect", name, env=env, timeout=90)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "10.200.0.2" in up.stdout, up.stdout
    # Wine has no tunnel driver: OpenVPN (here its stand-in) sets the adapter's DNS itself.
    assert "corp.internal" in up.stdout, up.stdout
    status = postern("vpn", "status", "--json", env=env)
    state = json.loads(status.stdout)
    assert state["state"] == "connected" and state["tunnelIp"] == "10.200.0.2", status.stdout
    down = postern("vpn", "disconnect", env=env)
    assert down.returncode == 0, down.stderr
    status = postern("vpn", "status", "--json", env=env)
    assert json.loads(status.stdout)["state"] == "disconnected", status.stdout
    postern("vpn", "remove", name)


def test_the_servers_deny_reason_reaches_the_user(service, pki):
    name = f"denied-{service['tag']}"
    import_profile(pki, name, "denied.example.com")
    env = {"POSTERN_HELPER_SOCKET": service["pipe"]}
    refused = postern("vpn", "connect", name, env=env, timeout=90)
    assert refused.returncode == VPN_FAILED, refused.stdout + refused.stderr
    assert "Your device failed the posture check (FileVault)" in refused.stderr, refused.stderr
    postern("vpn", "remove", name)


def test_a_helper_that_is_not_installed_is_a_clear_error():
    missing = postern("vpn", "status", env={"POSTERN_HELPER_SOCKET": r"\\.\pipe\postern-helper-none"})
    assert missing.returncode != 0
    assert "helper" in missing.stderr.lower() and "not running" in missing.stderr.lower(), missing.stderr


def test_the_helper_outside_the_service_manager_says_so():
    out = subprocess.run([WINE, HELPER, "--service", "--socket", r"\\.\pipe\postern-helper-x"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "service manager" in out.stderr, out.stderr


def test_a_second_helper_on_the_same_pipe_is_refused(service):
    second = subprocess.run([WINE, HELPER, "--socket", service["pipe"],
                             "--state-dir", service["state_dir"] + "-second"],
                            capture_output=True, text=True, timeout=60)
    assert second.returncode != 0
    assert "another process already serves" in second.stderr, second.stderr
    # The service still serves.
    assert helper_answers(service["pipe"])


def connect_through_console_helper(pki, openvpn, env=None):
    """The helper in a console (as a developer runs it) with `openvpn`, and one connect."""
    tag = uuid.uuid4().hex[:8]
    pipe = rf"\\.\pipe\postern-helper-{tag}"
    helper = subprocess.Popen(
        [WINE, HELPER, "--socket", pipe, "--openvpn", openvpn,
         "--state-dir", rf"C:\ProgramData\Postern\test-{tag}\tunnel"],
        env=dict(os.environ, **(env or {})), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until("the console helper serves its pipe", lambda: helper_answers(pipe))
        name = f"corp-{tag}"
        import_profile(pki, name, "cvpn-endpoint-0123456789abcdef0.prod.clientvpn.eu-west-1.amazonaws.com")
        refused = postern("vpn", "connect", name, env={"POSTERN_HELPER_SOCKET": pipe}, timeout=90)
        postern("vpn", "remove", name)
        return refused
    finally:
        helper.kill()
        helper.wait(timeout=30)


def test_a_missing_openvpn_exe_is_named(pki):
    missing = r"C:\Program Files\OpenVPN\bin\openvpn.exe"
    refused = connect_through_console_helper(pki, missing)
    assert refused.returncode == VPN_FAILED, refused.stdout + refused.stderr
    assert missing in refused.stderr, refused.stderr


def test_an_openvpn_older_than_2_5_is_refused_with_its_version(pki):
    refused = connect_through_console_helper(pki, windows_path(STAND_IN),
                                             env={"STAND_IN_OPENVPN_VERSION": "2.4.12"})
    assert refused.returncode == VPN_FAILED, refused.stdout + refused.stderr
    assert "OpenVPN 2.4.12 is too old" in refused.stderr, refused.stderr
