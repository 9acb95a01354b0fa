"""postern.exe exec, env, credential_process and the local credentials endpoint under wine: a
signed-in agent on its named pipe reaches Ready against the Identity Center emulator (a Linux
process on the same loopback), then serves a Windows command its credentials, passes on its exit
code, answers postern-credentials.exe through the profile aws-config install wrote, serves the
endpoint to the token it gave, and serves and starts nothing once disconnected."""
import json
import os
import subprocess
import urllib.error
import urllib.request
import uuid

import pytest
from botocore.compat import compat_shell_split

from conftest import PREFIX, WINE, wait_until
from test_cli import EXE, postern, windows_path

EMULATOR = os.environ.get("POSTERN_EMULATOR", "")
CREDENTIALS_EXE = os.environ.get("POSTERN_CREDENTIALS_EXE", "")
ACCOUNT, ROLE = "111122223333", "Developer"
START_URL = "https://wine.awsapps.com/start"
NOT_CONNECTED = 15
NOT_FOUND = 127

pytestmark = pytest.mark.skipif(
    not EXE or not PREFIX.is_dir(), reason="run by scripts/windows (POSTERN_EXE, WINEPREFIX)")


@pytest.fixture(scope="module")
def ready(tmp_path_factory):
    assert os.path.exists(EMULATOR), f"the emulator is built first (POSTERN_EMULATOR={EMULATOR!r})"
    emulator = subprocess.Popen([EMULATOR, "--start-url", START_URL, "--lifetime", "600"],
                                stdout=subprocess.PIPE, text=True)
    agent = None
    try:
        url = emulator.stdout.readline().split()[1]
        home = tmp_path_factory.mktemp("exec")
        policy = home / "policy.toml"
        policy.write_text(
            f'[identity_center]\nstart_url = "{START_URL}"\nregion = "eu-west-1"\n'
            f'oidc_endpoint = "{url}"\nportal_endpoint = "{url}"\n\n'
            f'[[access]]\naccount = "{ACCOUNT}"\nrole = "{ROLE}"\nrequire = []\nregion = "eu-central-1"\n')
        env = {"POSTERN_POLICY": windows_path(policy),
               "POSTERN_AGENT_SOCKET": rf"\\.\pipe\postern-agent-exec-{uuid.uuid4().hex[:8]}"}
        run_env = dict(os.environ, **env)
        login = subprocess.Popen([WINE, EXE, "login", "--device-code", "--no-browser"], env=run_env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seen = []
        for line in login.stderr:
            seen.append(line)
            if line.startswith("Code: "):
                data = f"user_code={line.split()[1]}&decision=approve".encode()
                urllib.request.urlopen(url + "/device", data=data, timeout=10).read()
                break
        assert login.wait(timeout=120) == 0, "".join(seen) + login.stderr.read()
        agent = subprocess.Popen([WINE, EXE, "agent", "--no-browser"], env=run_env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert "listening on" in agent.stderr.readline()
        connected = postern("connect", "--account", ACCOUNT, "--role", ROLE, env=env)
        assert connected.returncode == 0, connected.stderr
        yield env
    finally:
        if agent:
            postern("logout", env=env)
            agent.kill()
            agent.wait(timeout=30)
        emulator.kill()
        emulator.wait(timeout=30)


def test_exec_gives_a_windows_command_the_keys_and_ends_with_its_exit_code(ready):
    env = dict(ready, AWS_PROFILE="someone-elses")
    shown = postern("exec", "--", "cmd", "/c", "set AWS", env=env)
    assert shown.returncode == 0, shown.stderr
    lines = dict(line.split("=", 1) for line in shown.stdout.splitlines() if "=" in line)
    assert lines["AWS_ACCESS_KEY_ID"].startswith("ASIA"), shown.stdout
    assert lines["AWS_CREDENTIAL_EXPIRATION"].endswith("Z"), shown.stdout
    assert lines["AWS_REGION"] == "eu-central-1", shown.stdout
    assert "AWS_PROFILE" not in lines, shown.stdout
    assert postern("exec", "--", "cmd", "/c", "exit 7", env=ready).returncode == 7
    missing = postern("exec", "--", "no-such-program-here", env=ready)
    assert missing.returncode == NOT_FOUND, (missing.returncode, missing.stderr)
    assert "was not found" in missing.stderr, missing.stderr


def test_env_prints_powershell_by_default(ready):
    lines = postern("env", env=ready)
    assert lines.returncode == 0, lines.stderr
    assert "$Env:AWS_ACCESS_KEY_ID = 'ASIA" in lines.stdout, lines.stdout
    assert "Remove-Item Env:AWS_PROFILE" in lines.stdout, lines.stdout


def get(url, token):
    request = urllib.request.Request(url, headers={"Authorization": token})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_the_endpoint_serves_the_token_it_gave_while_its_command_runs(ready):
    # The command prints the endpoint and its token, then waits for a line on its input.
    child = subprocess.Popen(
        [WINE, EXE, "exec", "--endpoint", "--", "cmd", "/c",
         "echo %AWS_CONTAINER_CREDENTIALS_FULL_URI% %AWS_CONTAINER_AUTHORIZATION_TOKEN% %AWS_ACCESS_KEY_ID%& set /p x="],
        env=dict(os.environ, **ready), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url, token, keys = child.stdout.readline().split()
        assert url.startswith("http://127.0.0.1:") and len(token) == 64, (url, token)
        assert keys == "%AWS_ACCESS_KEY_ID%", "no static keys beside the endpoint"
        status, served = get(url, token)
        assert status == 200 and served["AccessKeyId"].startswith("ASIA"), served
        assert get(url, "0" * 64)[0] == 403
        child.stdin.write("\n")
        child.stdin.close()
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
    # Its token ended with it.
    wait_until("the ended command's token is refused", lambda: get(url, token)[0] == 403)


def credential_process(ready):
    """postern-credentials.exe as credential_process runs it."""
    return subprocess.run([WINE, CREDENTIALS_EXE, "--account", ACCOUNT, "--role", ROLE], capture_output=True,
                          text=True, env=dict(os.environ, **ready), timeout=120)


def test_the_profile_aws_config_install_writes_runs_postern_credentials(ready, tmp_path):
    config = tmp_path / "config"
    installed = postern("aws-config", "install", env=dict(ready, AWS_CONFIG_FILE=windows_path(config)))
    assert installed.returncode == 0, installed.stderr
    line = next(l for l in config.read_text().splitlines() if l.startswith("credential_process"))
    words = compat_shell_split(line.split("=", 1)[1].strip(), platform="win32")
    assert words == [windows_path(CREDENTIALS_EXE), "--account", ACCOUNT, "--role", ROLE], words
    served = credential_process(ready)
    assert served.returncode == 0, served.stderr
    document = json.loads(served.stdout)
    assert document["Version"] == 1 and document["AccessKeyId"].startswith("ASIA"), document


def test_once_disconnected_nothing_is_started(ready):
    postern("disconnect", env=ready)
    refused = credential_process(ready)
    assert refused.returncode == NOT_CONNECTED, (refused.returncode, refused.stderr)
    assert "Not connected" in refused.stderr and refused.stdout == "", refused
    refused = postern("exec", "--", "cmd", "/c", "echo ran", env=ready)
    assert refused.returncode == NOT_CONNECTED, (refused.returncode, refused.stderr)
    assert "ran" not in refused.stdout
    assert postern("env", env=ready).stdout == ""
