#!/usr/bin/env python3
"""Benchmark: the whole Connect pipeline (already signed in: posture, VPN through the helper,
egress proof, vending) against the raw OpenVPN handshake with the same profile, in the same
lab and run. Needs root, the lab, `cargo build`, and a desktop session for the keychain:

  scripts/with-desktop-session python3 benches/connect.py [ITERATIONS]

Target: Connect <= 1.3 x the raw handshake + 150 ms.
"""
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from vpn_connect import LAB, plain  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = ROOT / "target" / "debug"
AWS = "http://192.0.2.90"
RESOLVECTL = "/var/cache/postern-lab/systemd-resolved/usr/bin/resolvectl"
SYSTEM_BUS = "unix:path=/run/postern-lab-bus/system_bus"


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    subprocess.run([str(LAB), "up"], check=True, stdout=subprocess.DEVNULL)
    home = pathlib.Path(tempfile.mkdtemp(prefix="postern-bench-"))
    emulator = subprocess.Popen(["ip", "netns", "exec", "pl-inet", str(BIN / "postern-idc-emulator"),
                                 "--listen", "192.0.2.90:80", "--public-url", AWS, "--start-url",
                                 "https://lab.awsapps.com/start", "--lifetime", "900"],
                                stdout=subprocess.PIPE, text=True)
    emulator.stdout.readline()
    (home / "policy.toml").write_text(
        '[identity_center]\nstart_url = "https://lab.awsapps.com/start"\nregion = "eu-west-1"\n\n'
        '[egress]\necho_urls = ["http://192.0.2.80/"]\nallow_plain_http = true\nnat_addresses = ["203.0.113.10/32"]\n\n'
        '[posture]\n[posture.linux]\nmin_kernel = "3.0"\nrequired_processes = ["postern"]\nforbidden_processes = ["nc"]\n\n'
        '[[access]]\naccount = "111122223333"\nrole = "Developer"\n')
    env = dict(os.environ, HOME=str(home), POSTERN_POLICY=str(home / "policy.toml"),
               XDG_STATE_HOME=str(home / "state"), XDG_DATA_HOME=str(home / "data"),
               POSTERN_AGENT_SOCKET=str(home / "agent" / "agent.sock"),
               POSTERN_HELPER_SOCKET=str(home / "helper.sock"), BROWSER="/bin/false",
               AWS_ENDPOINT_URL_SSO_OIDC=AWS, AWS_ENDPOINT_URL_SSO=AWS)
    procs = []
    try:
        # The VPN's pushed DNS goes to the laptop's systemd-resolved, as on a real machine.
        procs.append(subprocess.Popen(["ip", "netns", "exec", "pl-laptop", str(BIN / "postern-helper"), "--socket",
                                       str(home / "helper.sock"), "--state-dir", str(home / "hstate"),
                                       "--resolver-tool", RESOLVECTL],
                                      env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=SYSTEM_BUS),
                                      stderr=subprocess.DEVNULL))
        profile = home / "corp.ovpn"
        subprocess.run([str(LAB), "profile", "alice.lab.test", str(profile)], check=True)
        subprocess.run([str(BIN / "postern"), "vpn", "import", str(profile)], env=env, check=True, capture_output=True)
        procs.append(subprocess.Popen(["ip", "netns", "exec", "pl-laptop", str(BIN / "postern"), "agent", "--no-browser"],
                                      env=env, stderr=subprocess.DEVNULL))
        for _ in range(100):
            if (home / "agent" / "agent.sock").exists() and (home / "helper.sock").exists():
                break
            time.sleep(0.05)
        connect = [str(BIN / "postern"), "connect", "corp", "--account", "111122223333", "--role", "Developer"]
        # Sign in once (device code approved at the lab's Identity Center).
        first = subprocess.Popen(connect, env=env, stderr=subprocess.PIPE, text=True)
        for line in first.stderr:
            if line.startswith("Code: "):
                subprocess.run(["ip", "netns", "exec", "pl-laptop", "curl", "-s", "-d",
                                f"user_code={line.split()[1]}&decision=approve", AWS + "/device"],
                               check=True, capture_output=True)
        assert first.wait(timeout=120) == 0
        disconnect = [str(BIN / "postern"), "disconnect"]
        subprocess.run(disconnect, env=env, check=True, capture_output=True)
        time.sleep(1)
        pipeline, raw = [], []
        for _ in range(n):
            t = time.perf_counter()
            subprocess.run(connect, env=env, check=True, capture_output=True, timeout=120)
            pipeline.append((time.perf_counter() - t) * 1000)
            subprocess.run(disconnect, env=env, check=True, capture_output=True)
            time.sleep(1)
            raw.append(plain(profile, home)[1])
        med = statistics.median
        budget = 1.3 * med(raw) + 150
        print(f"Connect (signed in; posture with kernel and process checks, VPN, egress, vending), {n} runs, debug build:")
        print(f"  postern connect → Ready           median {med(pipeline):7.1f} ms (min {min(pipeline):.1f}, max {max(pipeline):.1f})")
        print(f"  raw OpenVPN spawn → CONNECTED     median {med(raw):7.1f} ms (min {min(raw):.1f}, max {max(raw):.1f})")
        print(f"  ratio {med(pipeline) / med(raw):.2f}x; budget 1.3 x raw + 150 ms = {budget:.1f} ms: "
              f"{'within' if med(pipeline) <= budget else 'over'}")
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=20)
        emulator.kill()
        emulator.wait()


if __name__ == "__main__":
    main()
