"""One wine session for every Windows test. Wine starts its own daemons (the service manager,
device drivers) in the first process of a prefix, and they inherit that process's handles: a
test's captured output would stay open, and the test wait, as long as they run. Started here
first, they hold nothing of any test's, and stay up until the tests end."""
import os
import pathlib
import subprocess

import pytest

WINE = "/usr/lib/wine/wine64"
PREFIX = pathlib.Path(os.environ.get("WINEPREFIX", ""))


@pytest.fixture(scope="session", autouse=True)
def wine_session():
    if not PREFIX.is_dir():
        yield
        return
    holder = subprocess.Popen([WINE, "cmd", "/c", "pause"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Returns once the session answers (its daemons started by the holder, not by a test).
    subprocess.run([WINE, "cmd", "/c", "exit"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=120)
    yield
    holder.kill()
    holder.wait(timeout=30)
