"""The Linux package, installed on this machine and removed again (root; run by scripts/test after
`scripts/package deb --debug`): its files, the helper's group, its service enabled, the helper
started exactly as its unit says and answering the installed `postern` (members of the group
admitted, others refused), completions in three shells, the man page, the desktop entry; then a
removal and a purge that leave nothing of the package behind but the organization's policy (and
the group, which Debian never removes).

systemd does not run as PID 1 here, so the unit is checked as systemd would load it
(`systemd-analyze verify`, `systemctl is-enabled`) and the helper is started by hand with the
unit's own command line and directories; starting it through systemd is left to a machine that
boots with systemd (the workflow's package job installs the same .deb)."""
import grp
import json
import os
import pathlib
import shlex
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
VERSION = next(l.split('"')[1] for l in (ROOT / "Cargo.toml").read_text().splitlines()
               if l.startswith("version = "))
DEB = ROOT / "target" / "package" / f"postern_{VERSION}_amd64.deb"
UNIT = pathlib.Path("/lib/systemd/system/postern-helper.service")
POLICY = pathlib.Path("/etc/postern/policy.toml")
SOCKET = "/run/postern/helper.sock"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="installs a package: run as root")


def run(*args, check=True, **kw):
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=120, **kw)
    if check:
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def installed():
    done = run("dpkg-query", "-W", "-f=${Status}", "postern", check=False)
    return done.returncode == 0 and "installed" in done.stdout and "not-installed" not in done.stdout


@pytest.fixture(scope="module")
def package():
    assert DEB.is_file(), f"{DEB} is missing: run scripts/package deb --debug first"
    # The test removes what it installs; it must not take away a Postern someone installed.
    assert not installed(), "a postern package is already installed here: remove it first"
    assert not POLICY.exists(), f"{POLICY} exists: this test would leave it; move it away first"
    yield DEB
    # Whatever happened, nothing of the test's stays installed.
    if installed():
        run("dpkg", "--purge", "postern", check=False)
    POLICY.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def files(package):
    """What the package holds, read from the .deb itself."""
    listing = run("dpkg-deb", "--contents", str(package)).stdout
    paths = [line.split()[-1].lstrip(".") for line in listing.splitlines()]
    return {p.rstrip("/") for p in paths if p and p != "/"}


def test_the_control_file_names_the_package_and_what_it_needs(package):
    fields = {}
    for line in run("dpkg-deb", "--field", str(package)).stdout.splitlines():
        if ": " in line and not line.startswith(" "):
            key, value = line.split(": ", 1)
            fields[key] = value
    assert fields["Package"] == "postern"
    assert fields["Version"] == VERSION
    assert fields["Architecture"] == "amd64"
    depends = fields["Depends"]
    for need in ("openvpn (>= 2.5)", "systemd", "libayatana-appindicator3-1", "libwebkit2gtk-4.1-0"):
        assert need in depends, depends


def test_it_holds_the_four_programs_the_service_the_group_and_the_desktop_files(files):
    for path in ("/usr/bin/postern", "/usr/bin/postern-credentials", "/usr/bin/postern-app",
                 "/usr/bin/postern-helper",
                 str(UNIT), "/usr/lib/sysusers.d/postern.conf",
                 "/usr/share/applications/postern.desktop",
                 "/usr/share/icons/hicolor/32x32/apps/postern.png",
                 "/usr/share/icons/hicolor/128x128/apps/postern.png",
                 "/usr/share/bash-completion/completions/postern",
                 "/usr/share/zsh/vendor-completions/_postern",
                 "/usr/share/fish/vendor_completions.d/postern.fish",
                 "/usr/share/man/man1/postern.1.gz"):
        assert path in files, path
    # The organization's policy is the admin's file, never the package's.
    assert str(POLICY) not in files


def test_install_use_remove_and_purge(package, files, tmp_path):
    run("dpkg", "--install", str(package))
    assert installed()

    # Files in place, root's, the programs runnable by everyone.
    for b in ("postern", "postern-credentials", "postern-app", "postern-helper"):
        st = os.stat(f"/usr/bin/{b}")
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o755), b
    assert run("/usr/bin/postern", "--version").stdout.strip() == f"postern {VERSION}"
    assert run("/usr/bin/postern-credentials", "--version").stdout.strip() == f"postern-credentials {VERSION}"

    # The helper's group exists (sysusers), and the service is enabled for the next boot.
    group = grp.getgrnam("postern")
    assert run("systemctl", "is-enabled", "postern-helper.service", check=False).stdout.strip() == "enabled"
    verify = run("systemd-analyze", "verify", str(UNIT), check=False)
    assert verify.returncode == 0, verify.stderr

    # The helper as its unit starts it: the directories systemd would make, then ExecStart.
    unit = UNIT.read_text()
    exec_start = shlex.split(next(l.split("=", 1)[1] for l in unit.splitlines()
                                  if l.startswith("ExecStart=")))
    assert exec_start[0] == "/usr/bin/postern-helper"
    os.makedirs("/run/postern", mode=0o755, exist_ok=True)
    os.makedirs("/var/log/postern", mode=0o700, exist_ok=True)
    helper = subprocess.Popen(exec_start, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(SOCKET) and time.monotonic() < deadline:
            assert helper.poll() is None, helper.stderr.read()
            time.sleep(0.1)
        assert os.path.exists(SOCKET), "the helper never listened"
        status = run("/usr/bin/postern", "vpn", "status", "--json")
        assert json.loads(status.stdout)["state"] == "disconnected", status.stdout
        # A member of the group is admitted; someone outside it is refused with the helper's code.
        as_member = ["setpriv", "--reuid=65534", f"--regid={group.gr_gid}", "--clear-groups"]
        member = run(*as_member, "/usr/bin/postern", "vpn", "status", "--json", check=False)
        assert member.returncode == 0, member.stderr
        outsider = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        refused = run(*outsider, "/usr/bin/postern", "vpn", "status", "--json", check=False)
        assert refused.returncode == 10, (refused.returncode, refused.stderr)
        assert pathlib.Path("/var/log/postern/helper.log").is_file()
    finally:
        helper.terminate()
        helper.wait(timeout=30)

    # Completions in each shell, the man page, a valid desktop entry.
    bash = run("bash", "-c", "source /usr/share/bash-completion/completions/postern && complete -p postern")
    assert "postern" in bash.stdout
    fish = run("fish", "-c", "complete -C'postern autos'")
    assert fish.stdout.startswith("autostart"), fish.stdout
    zsh = (pathlib.Path("/usr/share/zsh/vendor-completions/_postern")).read_text()
    assert zsh.startswith("#compdef postern"), zsh[:40]
    man = run("man", "-l", "/usr/share/man/man1/postern.1.gz", env=dict(os.environ, MANPAGER="cat",
                                                                            MANWIDTH="100"))
    assert "autostart" in man.stdout
    run("desktop-file-validate", "/usr/share/applications/postern.desktop")

    # The profiles the installed CLI writes run the installed credential_process program.
    policy, config = tmp_path / "policy.toml", tmp_path / "aws-config"
    policy.write_text('[identity_center]\nstart_url = "https://my-org.awsapps.com/start"\nregion = "eu-west-1"\n\n'
                      '[[access]]\naccount = "111122223333"\nrole = "Developer"\nrequire = []\n')
    run("/usr/bin/postern", "aws-config", "install",
        env=dict(os.environ, POSTERN_POLICY=str(policy), AWS_CONFIG_FILE=str(config)))
    assert ("credential_process = /usr/bin/postern-credentials --account 111122223333 --role Developer\n"
            in config.read_text()), config.read_text()

    # Installing again (an upgrade to the same version) keeps one working install.
    run("dpkg", "--install", str(package))
    assert run("systemctl", "is-enabled", "postern-helper.service", check=False).stdout.strip() == "enabled"

    # The admin's policy, then removal: the programs go, the policy stays.
    POLICY.write_text('[identity_center]\nstart_url = "https://my-org.awsapps.com/start"\nregion = "eu-west-1"\n')
    run("dpkg", "--remove", "postern")
    assert not pathlib.Path("/usr/bin/postern").exists()
    run("dpkg", "--purge", "postern")
    assert not installed()
    left = sorted(p for p in files if os.path.lexists(p) and not os.path.isdir(p))
    assert left == [], left
    assert not os.path.exists("/var/log/postern")
    assert not os.path.lexists("/etc/systemd/system/postern-helper.service"), "a mask was left"
    assert run("systemctl", "is-enabled", "postern-helper.service", check=False).returncode != 0
    assert POLICY.read_text().startswith("[identity_center]"), "the organization's policy stays"
    assert grp.getgrnam("postern"), "the group stays, as Debian leaves system groups"
