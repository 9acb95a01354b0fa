#!/usr/bin/env python3
"""Benchmark: a warm credential_process call (the gate open, the agent holding the credentials),
by `postern-credentials` (what `aws-config install` writes) and by `postern credentials`, against
aws-sso-util's `credential-process` (PyPI) and the floor of spawning `true`; one request
to the agent's local credentials endpoint against a plain loopback HTTP GET (the emulator's own
axum server), by the same client; and `postern exec -- true` against `true`. All in one run
against the same Identity Center emulator on loopback, with the release build.

  pip install -r benches/requirements.txt
  cargo build --release -p postern-cli -p postern-credentials -p postern-idc-emulator
  scripts/with-desktop-session python3 benches/credentials.py [CALLS]

Targets: postern-credentials within 2x of the floor; >= 50x faster than aws-sso-util.
"""
import hashlib
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = ROOT / "target" / os.environ.get("POSTERN_BENCH_PROFILE", "release")
ACCOUNT, ROLE = "111122223333", "Developer"


def timed(cmd, env, n):
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        out = subprocess.run(cmd, env=env, capture_output=True)
        samples.append((time.perf_counter() - t) * 1000)
        if out.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed: {out.stderr.decode()[:300]}")
    return samples


# Times GETs from one Python process: a fresh connection each, as an SDK's first call makes.
GETS = r"""
import http.client, os, statistics, sys, time, urllib.parse
# Empty arguments: the endpoint `postern exec --endpoint` gave this process.
url = sys.argv[1] or os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
token = sys.argv[2] or os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")
n = int(sys.argv[3])
u = urllib.parse.urlsplit(url)
samples = []
for i in range(n + 3):
    t = time.perf_counter()
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    c.request("GET", u.path, headers={"Authorization": token} if token else {})
    r = c.getresponse(); r.read(); c.close()
    if r.status != 200:
        raise SystemExit(f"{url}: HTTP {r.status}")
    if i >= 3:
        samples.append((time.perf_counter() - t) * 1000)
print(statistics.median(samples), min(samples), max(samples))
"""


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    home = pathlib.Path(tempfile.mkdtemp(prefix="postern-bench-"))
    emulator = subprocess.Popen([str(BIN / "postern-idc-emulator"), "--start-url", "https://bench.awsapps.com/start",
                                 "--lifetime", "600"], stdout=subprocess.PIPE, text=True)
    url = emulator.stdout.readline().split()[1]
    (home / "policy.toml").write_text(
        f'[identity_center]\nstart_url = "https://bench.awsapps.com/start"\nregion = "eu-west-1"\n'
        f'oidc_endpoint = "{url}"\nportal_endpoint = "{url}"\n\n'
        f'[[access]]\naccount = "{ACCOUNT}"\nrole = "{ROLE}"\nrequire = []\n')
    env = dict(os.environ, HOME=str(home), POSTERN_POLICY=str(home / "policy.toml"),
               XDG_STATE_HOME=str(home / "state"), XDG_DATA_HOME=str(home / "data"),
               POSTERN_AGENT_SOCKET=str(home / "agent" / "agent.sock"), BROWSER="/bin/false",
               AWS_ENDPOINT_URL_SSO_OIDC=url, AWS_ENDPOINT_URL_SSO=url)
    agent = None
    try:
        login = subprocess.Popen([str(BIN / "postern"), "login", "--device-code", "--no-browser",
                                  "--export-aws-cli-cache"], env=env, stderr=subprocess.PIPE, text=True)
        for line in login.stderr:
            if line.startswith("Code: "):
                data = f"user_code={line.split()[1]}&decision=approve".encode()
                urllib.request.urlopen(url + "/device", data=data, timeout=10).read()
                break
        assert login.wait(timeout=60) == 0
        agent = subprocess.Popen([str(BIN / "postern"), "agent", "--no-browser"], env=env,
                                 stderr=subprocess.DEVNULL)
        for _ in range(100):
            if (home / "agent" / "agent.sock").exists():
                break
            time.sleep(0.05)
        subprocess.run([str(BIN / "postern"), "connect", "--account", ACCOUNT, "--role", ROLE], env=env,
                       check=True, capture_output=True, timeout=60)
        (home / ".aws").mkdir(exist_ok=True)
        # aws-sso-util reads legacy SSO profiles, whose token cache is keyed by the start URL.
        (home / ".aws" / "config").write_text(
            "[profile bench]\nsso_start_url = https://bench.awsapps.com/start\nsso_region = eu-west-1\n"
            f"sso_account_id = {ACCOUNT}\nsso_role_name = {ROLE}\nregion = eu-west-1\n")
        cache = home / ".aws" / "sso" / "cache"
        exported = cache / (hashlib.sha1(b"postern").hexdigest() + ".json")
        (cache / (hashlib.sha1(b"https://bench.awsapps.com/start").hexdigest() + ".json")).write_text(exported.read_text())
        dedicated = [str(BIN / "postern-credentials"), "--account", ACCOUNT, "--role", ROLE]
        postern = [str(BIN / "postern"), "credentials", "--account", ACCOUNT, "--role", ROLE]
        sso_util = ["aws-sso-util", "credential-process", "--profile", "bench"]
        for cmd in (dedicated, postern, sso_util, ["true"]):
            timed(cmd, env, 3)
        # Interleaved, so that a busy moment of the machine falls on all three alike.
        d, p, t = [], [], []
        for _ in range(n):
            d += timed(dedicated, env, 1)
            p += timed(postern, env, 1)
            t += timed(["true"], env, 1)
        s = timed(sso_util, env, max(5, n // 5))
        exec_true = [str(BIN / "postern"), "exec", "--account", ACCOUNT, "--role", ROLE, "--", "true"]
        timed(exec_true, env, 3)
        e = timed(exec_true, env, n)
        # The endpoint through `exec --endpoint` (its URL and token), the plain GET straight.
        endpoint = subprocess.run(
            [str(BIN / "postern"), "exec", "--endpoint", "--account", ACCOUNT, "--role", ROLE, "--",
             sys.executable, "-c", GETS, "", "", str(n)], env=env, capture_output=True, text=True)
        if endpoint.returncode != 0:
            raise SystemExit(f"exec --endpoint failed: {endpoint.stderr[:300]}")
        ep = [float(x) for x in endpoint.stdout.split()]
        plain = subprocess.run([sys.executable, "-c", GETS, url + "/_emulator/stats", "-", str(n)],
                               capture_output=True, text=True, check=True)
        pl = [float(x) for x in plain.stdout.split()]
        med = statistics.median
        profile = os.environ.get("POSTERN_BENCH_PROFILE", "release")
        print(f"warm credentials, {n} calls (aws-sso-util {max(5, n // 5)} calls), {profile} build:")
        print(f"  postern-credentials             median {med(d):7.2f} ms  (min {min(d):.2f}, max {max(d):.2f})")
        print(f"  postern credentials             median {med(p):7.2f} ms  (min {min(p):.2f}, max {max(p):.2f})")
        print(f"  aws-sso-util credential-process median {med(s):7.2f} ms  (min {min(s):.2f}, max {max(s):.2f})")
        print(f"  spawning `true` (the floor)     median {med(t):7.2f} ms")
        print(f"  postern-credentials above the floor: {med(d) - med(t):+.2f} ms ({med(d) / med(t):.2f}x the floor); "
              f"aws-sso-util / postern-credentials: {med(s) / med(d):.1f}x (targets: <= 2x the floor, >= 50x)")
        print(f"  postern credentials: {med(p) / med(t):.2f}x the floor, "
              f"{med(p) / med(d):.2f}x postern-credentials")
        print(f"  postern exec -- true            median {med(e):7.2f} ms  ({med(e) / med(t):.2f}x `true`)")
        print(f"one GET, {n} requests, a fresh connection each:")
        print(f"  local credentials endpoint      median {ep[0]:7.3f} ms  (min {ep[1]:.3f}, max {ep[2]:.3f})")
        print(f"  plain loopback GET (axum)       median {pl[0]:7.3f} ms  (min {pl[1]:.3f}, max {pl[2]:.3f})")
        print(f"  endpoint / plain: {ep[0] / pl[0]:.2f}x")
    finally:
        if agent:
            agent.terminate()
            agent.wait(timeout=15)
        emulator.kill()
        emulator.wait()


if __name__ == "__main__":
    main()
