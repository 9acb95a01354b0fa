#!/usr/bin/env python3
"""Benchmark: the desktop app's cold start, memory and package size, against Chromium showing the
same window page (an Electron-class shell) in the same run. Release build; not part of CI.

  scripts/with-desktop-session python3 benches/app.py [ITERATIONS]

Prints, for each: start to a window titled "Postern" on the display (and, for the app, to its
tray being ready); RSS and PSS summed over every process (WebKit's or Chromium's helpers
included) after 30 s idle, in the tray as a start at login leaves it (`--at-login`) and with the
window open; the whole Linux package (`scripts/package deb`: CLI, app, helper, unit,
completions, man page) against the app-only .deb the Tauri bundler builds and Debian's chromium
.deb. Targets: RSS <= 80 MB idle in the tray, .deb <= 15 MB. Figures are printed, never asserted.
"""
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
APP = ROOT / "target" / "release" / "postern-app"
IDLE_SECONDS = 30


def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)


def tree(pid):
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        kids = subprocess.run(["pgrep", "-P", str(p)], capture_output=True, text=True).stdout.split()
        todo.extend(int(k) for k in kids)
    return out


def memory(pid):
    """(RSS, PSS) in MiB over the process tree."""
    rss = pss = 0
    for p in tree(pid):
        try:
            for line in open(f"/proc/{p}/smaps_rollup"):
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
    return rss / 1024, pss / 1024


def window_titled(display, title):
    out = subprocess.run(["xwininfo", "-display", display, "-root", "-tree"],
                         capture_output=True, text=True).stdout
    return f'"{title}"' in out


def wait_window(display, title, started, limit=30):
    while time.monotonic() - started < limit:
        if window_titled(display, title):
            return (time.monotonic() - started) * 1000
        time.sleep(0.01)
    return None


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_app(display, env, background):
    # In the background as a start at login brings it up (the policy turns start at login on).
    args = [str(APP)] + (["--at-login"] if background else [])
    started = time.monotonic()
    proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
    tray = None
    while time.monotonic() - started < 30:
        line = proc.stderr.readline()
        if not line:
            break
        m = re.search(r"tray ready in (\d+) ms", line)
        if m:
            tray = (time.monotonic() - started) * 1000
            break
    window = None if background else wait_window(display, "Postern", started)
    return proc, tray, window


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    sh("cargo", "build", "--release", "-p", "postern-app", cwd=ROOT)
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    display = ":" + xvfb.stdout.readline().strip()
    home = pathlib.Path(tempfile.mkdtemp(prefix="postern-app-bench-"))
    (home / "policy.toml").write_text(
        '[identity_center]\nstart_url = "https://bench.awsapps.com/start"\nregion = "eu-west-1"\n\n'
        '[[access]]\naccount = "111122223333"\nrole = "Developer"\nrequire = []\n\n'
        '[app]\nstart_at_login = true\n')
    env = dict(os.environ, DISPLAY=display, HOME=str(home), POSTERN_POLICY=str(home / "policy.toml"),
               POSTERN_AGENT_SOCKET=str(home / "agent.sock"), POSTERN_LOG_DIR=str(home / "logs"),
               XDG_STATE_HOME=str(home / "state"), XDG_CONFIG_HOME=str(home / "config"),
               NO_AT_BRIDGE="1")
    page = ROOT / "ui" / "dist" / "index.html"
    try:
        app_tray, app_window, chrome_window = [], [], []
        for _ in range(n):
            proc, tray, window = run_app(display, env, background=False)
            app_tray.append(tray)
            app_window.append(window)
            stop(proc)
            profile = tempfile.mkdtemp(prefix="chromium-bench-")
            started = time.monotonic()
            chrome = subprocess.Popen(["chromium", "--no-sandbox", "--no-first-run", "--disable-gpu",
                                       f"--user-data-dir={profile}", f"--app=file://{page}"],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            chrome_window.append(wait_window(display, "Postern", started))
            stop(chrome)
            shutil.rmtree(profile, ignore_errors=True)

        def med(xs):
            xs = [x for x in xs if x is not None]
            return statistics.median(xs) if xs else float("nan")

        print(f"cold start, median of {n} (release build):")
        print(f"  postern-app: tray ready {med(app_tray):7.0f} ms, window shown {med(app_window):7.0f} ms")
        print(f"  chromium --app, same page: window shown {med(chrome_window):7.0f} ms")
        print(f"  ratio (window shown): {med(app_window) / med(chrome_window):.2f}x")

        print(f"memory after {IDLE_SECONDS} s idle (sum over the process tree):")
        proc, _, _ = run_app(display, env, background=True)
        time.sleep(IDLE_SECONDS)
        tray_rss, tray_pss = memory(proc.pid)
        stop(proc)
        proc, _, _ = run_app(display, env, background=False)
        time.sleep(IDLE_SECONDS)
        open_rss, open_pss = memory(proc.pid)
        stop(proc)
        profile = tempfile.mkdtemp(prefix="chromium-bench-")
        chrome = subprocess.Popen(["chromium", "--no-sandbox", "--no-first-run", "--disable-gpu",
                                   f"--user-data-dir={profile}", f"--app=file://{page}"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(IDLE_SECONDS)
        chrome_rss, chrome_pss = memory(chrome.pid)
        stop(chrome)
        shutil.rmtree(profile, ignore_errors=True)
        print(f"  postern-app --at-login (tray only):     RSS {tray_rss:6.1f} MiB, PSS {tray_pss:6.1f} MiB"
              f" (target <= 80 MB: {tray_rss / 80:.2f}x of it)")
        print(f"  postern-app, window open:               RSS {open_rss:6.1f} MiB, PSS {open_pss:6.1f} MiB")
        print(f"  chromium --app, same page open:         RSS {chrome_rss:6.1f} MiB, PSS {chrome_pss:6.1f} MiB")
        print(f"  ratio, window open (PSS): {open_pss / chrome_pss:.2f}x")
    finally:
        stop(xvfb)
        shutil.rmtree(home, ignore_errors=True)

    print("package:")
    sh("bash", "scripts/package", "deb", cwd=ROOT, stdout=subprocess.DEVNULL)
    whole = next((ROOT / "target" / "package").glob("postern_*_amd64.deb"))
    size = whole.stat().st_size / 1e6
    sh("npm", "run", "--silent", "bundle-deb", cwd=ROOT / "ui", stdout=subprocess.DEVNULL)
    debs = sorted((ROOT / "target" / "release" / "bundle" / "deb").glob("*.deb"), key=os.path.getmtime)
    app_only = debs[-1].stat().st_size / 1e6
    chromium_size = next((int(l.split()[1]) for l in subprocess.run(
        ["apt-cache", "show", "chromium"], capture_output=True, text=True).stdout.splitlines()
        if l.startswith("Size:")), 0) / 1e6
    print(f"  {whole.name} (CLI, app, helper, unit, completions, man page): {size:.2f} MB"
          f" (target <= 15 MB: {size / 15:.2f}x of it)")
    print(f"  {debs[-1].name} (the app alone, Tauri's bundler): {app_only:.2f} MB; whole/app-only {size / app_only:.2f}x")
    print(f"  Debian's chromium .deb: {chromium_size:.1f} MB; whole/chromium {size / chromium_size:.3f}x")


if __name__ == "__main__":
    main()
