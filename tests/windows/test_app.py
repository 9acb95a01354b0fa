"""postern-app.exe under wine: on an X display (Xvfb) its tray comes up and its in-process
agent serves postern.exe on the user's named pipe; with no display it explains that it has
nowhere to show itself and exits 1. Wine has no WebView2, so the window itself is tested on
Linux. Run by scripts/windows."""
import json
import os
import subprocess
import tempfile
import time

import pytest

from conftest import PREFIX, WINE
from test_cli import postern, windows_path

APP = os.environ.get("POSTERN_APP_EXE", "")

pytestmark = pytest.mark.skipif(
    not APP or not PREFIX.is_dir(), reason="run by scripts/windows (POSTERN_APP_EXE)")

POLICY = """[identity_center]
start_url = "https://my-org.awsapps.com/start"
region    = "eu-west-1"

[[access]]
account = "111122223333"
role = "Developer"
require = []
"""


def test_the_tray_comes_up_and_its_agent_serves_the_cli_on_the_users_pipe(display, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    env = dict(os.environ, DISPLAY=display, POSTERN_POLICY=windows_path(policy))
    with tempfile.TemporaryFile("w+") as log:
        app = subprocess.Popen([WINE, APP, "--background"], env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 90
            status = None
            while time.monotonic() < deadline:
                status = postern("status", "--json", env={"DISPLAY": display}, timeout=60)
                if status.returncode == 0:
                    break
                if app.poll() is not None:
                    log.seek(0)
                    pytest.fail(f"the app ended with {app.returncode}: {log.read()}")
                time.sleep(0.5)
            log.seek(0)
            said = log.read()
            assert status is not None and status.returncode == 0, (status.stderr if status else "", said)
            assert json.loads(status.stdout)["state"]["state"] == "idle", status.stdout
            assert "tray ready" in said, said
        finally:
            app.kill()
            app.wait(timeout=30)


def test_with_nowhere_to_show_itself_the_app_says_so_and_exits_1(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["POSTERN_POLICY"] = windows_path(policy)
    with tempfile.TemporaryFile("w+") as log:
        done = subprocess.run([WINE, APP], env=env, stdout=log, stderr=log, timeout=120)
        log.seek(0)
        said = log.read()
    assert done.returncode == 1, said
    assert "neither the tray icon nor the window can be shown" in said, said
    assert "panicked" not in said, said
