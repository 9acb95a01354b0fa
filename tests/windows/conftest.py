"""One wine session for every Windows test. Wine starts its own daemons (the service manager,
device drivers) in the first process of a prefix, and they inherit that process's handles: a
test's captured output would stay open, and the test wait, as long as they run. Started here
first, they hold nothing of any test's, and stay up until the tests end."""
import os
import pathlib
import subprocess
import tempfile
import time

import pytest

WINE = "/usr/lib/wine/wine64"
WINESERVER = "/usr/lib/wine/wineserver64"
PREFIX = pathlib.Path(os.environ.get("WINEPREFIX", ""))


def run_wine(*args, timeout=120):
    """A wine command whose output goes to files, not pipes: a wine daemon that it starts would
    inherit a pipe and hold it open for ever."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        done = subprocess.run([WINE, *args], stdout=out, stderr=err, text=True, timeout=timeout)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(done.args, done.returncode, out.read(), err.read())


def wait_until(what, done, within=30.0):
    """Polls `done` (bounded); the test fails, naming `what`, when it never holds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.3)
    pytest.fail(f"{what} within {within} s")


@pytest.fixture(scope="session")
def display():
    """A private X display for the session; Xvfb picks a free number and says which."""
    read, write = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as answer:
        number = answer.readline().strip()
    assert number, "Xvfb did not say its display"
    yield f":{number}"
    xvfb.terminate()
    xvfb.wait(timeout=30)


@pytest.fixture(scope="session", autouse=True)
def wine_session(display):
    if not PREFIX.is_dir():
        yield
        return
    # The session's desktop (explorer, which hosts the tray) starts with the session's first
    # process and keeps that process's display: without one, no program of the session can show
    # a tray icon. So no session may be left from the unit tests (wine keeps its server a few
    # seconds after the last program ends), and every process that could start this one has
    # the display.
    subprocess.run([WINESERVER, "-w"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=120)
    with_display = dict(os.environ, DISPLAY=display)
    holder = subprocess.Popen([WINE, "cmd", "/c", "pause"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=with_display)
    # Returns once the session answers (its daemons started by the holder, not by a test).
    subprocess.run([WINE, "cmd", "/c", "exit"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=with_display, timeout=120)
    yield
    holder.kill()
    holder.wait(timeout=30)
