"""postern.exe under wine: the CLI's Windows paths end to end (Credential Manager, %APPDATA%,
the machine policy in %ProgramData% and the Group Policy registry key, the posture probes).
Run by scripts/windows, which builds postern.exe and makes the wine prefix."""
import json
import os
import pathlib
import subprocess
import tempfile
import uuid

import pytest

from conftest import PREFIX, WINE

EXE = os.environ.get("POSTERN_EXE", "")
BAD_INPUT = 3
AGENT_UNAVAILABLE = 16

pytestmark = pytest.mark.skipif(
    not EXE or not PREFIX.is_dir(), reason="run by scripts/windows (POSTERN_EXE, WINEPREFIX)")


def windows_path(path):
    """What a Windows program calls a file of this machine: wine maps / to Z:."""
    return "Z:" + str(path).replace("/", "\\")


def postern(*args, env=None, unset=(), timeout=120):
    """postern.exe with `env` added to this environment and the variables in `unset` removed."""
    run_env = {k: v for k, v in dict(os.environ, **(env or {})).items() if k not in unset}
    return subprocess.run([WINE, EXE, *args], capture_output=True, text=True, env=run_env,
                          timeout=timeout)


def wine(*args):
    return subprocess.run([WINE, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def pki():
    """A CA, a client certificate and its key, as AWS's Client VPN configuration export has."""
    with tempfile.TemporaryDirectory() as d:
        d = pathlib.Path(d)
        def ssl(*a):
            subprocess.run(["openssl", *a], check=True, capture_output=True, cwd=d)
        ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=lab-ca")
        ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=alice.lab.test")
        ssl("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "client.crt", "-days", "2")
        yield {n: (d / f"{n}").read_text() for n in ("ca.crt", "client.crt", "client.key")}


def profile_text(pki, extra=""):
    return f"""client
dev tun
proto udp
remote cvpn-endpoint-0123456789abcdef0.prod.clientvpn.eu-west-1.amazonaws.com 443
remote-random-hostname
resolv-retry infinite
nobind
remote-cert-tls server
cipher AES-256-GCM
verb 3
{extra}
<ca>
{pki['ca.crt']}</ca>
<cert>
{pki['client.crt']}</cert>
<key>
{pki['client.key']}</key>
reneg-sec 0
"""


def key_body(pki):
    """A line from the middle of the private key: if it is on disk, the key is."""
    lines = [l for l in pki["client.key"].splitlines() if l and not l.startswith("-----")]
    return lines[len(lines) // 2]


def postern_files():
    """Every file Postern may have written in the wine user's profile or ProgramData."""
    roots = [PREFIX / "drive_c" / "users", PREFIX / "drive_c" / "ProgramData"]
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and "postern" in str(path).lower():
                yield path


def test_a_profile_is_imported_with_its_key_in_credential_manager_and_listed(pki, tmp_path):
    name = f"corp-{uuid.uuid4().hex[:8]}"
    file = tmp_path / f"{name}.ovpn"
    file.write_text(profile_text(pki))
    run = postern("vpn", "import", windows_path(file))
    assert run.returncode == 0, run.stderr
    assert f"Imported VPN profile '{name}'" in run.stdout

    listed = postern("vpn", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    names = [p["name"] for p in json.loads(listed.stdout)["profiles"]]
    assert name in names

    # The profile is kept; its private key is not, on any file Postern wrote.
    written = list(postern_files())
    assert written, "the profile store is somewhere under the user's profile"
    body = key_body(pki)
    for path in written:
        assert body not in path.read_text(errors="replace"), f"the key is in {path}"

    removed = postern("vpn", "remove", name)
    assert removed.returncode == 0, removed.stderr
    names = [p["name"] for p in json.loads(postern("vpn", "list", "--json").stdout)["profiles"]]
    assert name not in names


@pytest.mark.parametrize("directive", [
    "up C:\\\\Windows\\\\System32\\\\cmd.exe",
    "script-security 2",
    "plugin C:\\\\evil.dll",
    "management 0.0.0.0 7505",
])
def test_a_hostile_profile_is_refused_and_nothing_is_kept(pki, tmp_path, directive):
    name = f"hostile-{uuid.uuid4().hex[:8]}"
    file = tmp_path / f"{name}.ovpn"
    file.write_text(profile_text(pki, directive))
    run = postern("vpn", "import", windows_path(file))
    assert run.returncode == BAD_INPUT, (run.returncode, run.stdout, run.stderr)
    assert directive.split()[0] in run.stderr, run.stderr
    names = [p["name"] for p in json.loads(postern("vpn", "list", "--json").stdout)["profiles"]]
    assert name not in names


GOOD_POLICY = """[identity_center]
start_url = "https://my-org.awsapps.com/start"
region    = "eu-west-1"

[egress]
nat_addresses = ["203.0.113.10/32"]
"""


def test_policy_validate_reads_a_windows_path_and_names_the_line(tmp_path):
    good = tmp_path / "policy.toml"
    good.write_text(GOOD_POLICY)
    run = postern("policy", "validate", windows_path(good))
    assert run.returncode == 0, run.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD_POLICY.replace('"eu-west-1"', '"eu-west-1"\nstart_uri = "x"'))
    run = postern("policy", "validate", windows_path(bad))
    assert run.returncode == BAD_INPUT
    assert "start_uri" in run.stderr and "4" in run.stderr, run.stderr


POSTURE_POLICY = GOOD_POLICY + """
[posture.windows]
min_build = "10.0.19045.4000"
require_disk_encryption = true
require_firewall = true
require_screen_lock = true
forbidden_processes = ["evil.exe"]
"""


def test_posture_decides_on_windows_with_a_reason_for_every_check(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(POSTURE_POLICY)
    run = postern("posture", "--json", env={"POSTERN_POLICY": windows_path(policy)})
    # Wine answers some probes and not others: whatever it answers, a decision with reasons,
    # never a crash.
    assert run.returncode in (0, 11, 12), (run.returncode, run.stderr)
    report = json.loads(run.stdout)
    checks = report["checks"]
    assert {c["check"] for c in checks} >= {"os_version", "disk_encryption", "firewall",
                                           "screen_lock", "forbidden_process"}, report
    for check in checks:
        assert check["result"] in ("pass", "fail", "unknown"), check
        if check["result"] == "fail":
            assert check["detail"] and check["remediation"], check
        if check["result"] == "unknown":
            assert check["reason"]["why"] and check["reason"]["detail"], check
    # The decision follows from the checks, and the exit code from the decision.
    failed = sorted(c["check"] for c in checks if c["result"] == "fail")
    assert sorted(report["failing"]) == failed, report
    assert (report["status"] == "non-compliant") == bool(failed), report
    assert run.returncode == (11 if failed else 0), (run.returncode, report["status"])


def admx_setting():
    """The registry key and value the shipped ADMX template sets, with its ADML's texts."""
    import xml.etree.ElementTree as ET
    ns = {"p": "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"}
    here = pathlib.Path(__file__).resolve().parents[2] / "installers" / "windows"
    admx = ET.parse(here / "postern.admx").getroot()
    adml = ET.parse(here / "en-US" / "postern.adml").getroot()
    strings = {e.get("id") for e in adml.iterfind(".//p:string", ns)}
    presentations = {e.get("id") for e in adml.iterfind(".//p:presentation", ns)}
    (policy,) = [p for p in admx.iterfind(".//p:policy", ns) if p.get("name") == "PolicyFile"]
    for ref in (policy.get("displayName"), policy.get("explainText")):
        assert ref[len("$(string."):-1] in strings, ref
    assert policy.get("presentation")[len("$(presentation."):-1] in presentations
    (text,) = policy.iterfind(".//p:text", ns)
    return "HKLM\\" + policy.get("key"), text.get("valueName")


def test_group_policy_names_the_policy_file_in_the_registry(tmp_path):
    # The value the ADMX template writes is the one Postern reads.
    key, value = admx_setting()
    managed = tmp_path / "managed.toml"
    managed.write_text(GOOD_POLICY.replace("203.0.113.10/32", "203.0.113.77/32"))
    added = wine("reg", "add", key, "/v", value, "/t", "REG_SZ", "/d",
                 windows_path(managed), "/f")
    assert added.returncode == 0, added.stderr
    try:
        def render():
            return postern("policy", "render", "--kind", "iam", unset=("POSTERN_POLICY",))
        run = render()
        assert run.returncode == 0, run.stderr
        assert "203.0.113.77/32" in run.stdout, run.stdout
        # A file Group Policy names must exist: a missing one is an error, not a fallback.
        managed.unlink()
        run = render()
        assert run.returncode == BAD_INPUT, (run.returncode, run.stdout, run.stderr)
        assert "managed.toml" in run.stderr, run.stderr
        # A value of the wrong type is an error that says so, never a silent fallback.
        wine("reg", "add", key, "/v", value, "/t", "REG_DWORD", "/d", "1", "/f")
        run = render()
        assert run.returncode == BAD_INPUT, (run.returncode, run.stdout, run.stderr)
        assert "not a string" in run.stderr, run.stderr
    finally:
        wine("reg", "delete", key, "/f")


def test_the_agent_serves_its_user_on_its_named_pipe_and_a_second_agent_is_refused(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(GOOD_POLICY)
    pipe = rf"\\.\pipe\postern-agent-test-{uuid.uuid4().hex[:8]}"
    env = {"POSTERN_POLICY": windows_path(policy), "POSTERN_AGENT_SOCKET": pipe}
    agent = subprocess.Popen([WINE, EXE, "agent", "--no-browser"], env=dict(os.environ, **env),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        banner = agent.stderr.readline()
        assert "listening on" in banner and pipe in banner, banner
        status = postern("status", "--json", env=env)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["state"]["state"] == "idle", status.stdout

        second = postern("agent", "--no-browser", env=env)
        assert second.returncode == AGENT_UNAVAILABLE, (second.returncode, second.stderr)
        assert "another Postern agent is already running" in second.stderr, second.stderr
    finally:
        agent.kill()
        agent.wait(timeout=30)
    # With the agent gone, nothing answers on its pipe, and the CLI says so.
    gone = postern("status", env=env)
    assert gone.returncode == AGENT_UNAVAILABLE, (gone.returncode, gone.stderr)
    assert "not running" in gone.stderr, gone.stderr
