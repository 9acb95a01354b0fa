#!/usr/bin/env python3
"""The built-in lab demo: what an employee's Connect does, on lab parts running on this machine
(root: the lab builds network namespaces). It runs inside a private desktop session (see
scripts/run), so the keychain is a real gnome-keyring.

1. The lab: a laptop, an "internet" with a checkip echo and the lab's AWS (the Identity Center
   and STS emulator, enforcing the company's deny-unless-NAT rule), a VPC with an OpenVPN 2.6
   server NATing VPN clients to the Elastic IP 203.0.113.10.
2. Postern's privileged helper and per-user agent in the laptop.
3. `postern connect`: sign in (device code, approved at the lab's sign-in page), posture, VPN,
   egress proof, credentials.
4. The real AWS CLI uses the installed credential_process profile: accepted from the NAT.
5. The VPN server dies: Postern withdraws the credentials and says why.
"""
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "target" / "debug").resolve()
LAB = ROOT / "tests" / "lab" / "lab"
AWS = "http://192.0.2.90"


def say(text):
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def shown(cmd, env, check=True):
    print("$ " + " ".join(pathlib.Path(c).name if i == 0 else c for i, c in enumerate(cmd)), flush=True)
    result = subprocess.run(cmd, env=env, text=True, capture_output=True)
    out = (result.stdout + result.stderr).rstrip()
    if out:
        print(out, flush=True)
    if check and result.returncode != 0:
        raise SystemExit(f"demo: {cmd[0]} failed with {result.returncode}")
    return result


def main():
    lab_was_up = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.find("pl-laptop") >= 0
    home = pathlib.Path(tempfile.mkdtemp(prefix="postern-demo-"))
    procs = []
    try:
        say("The lab: laptop, internet, VPC with OpenVPN and a NAT gateway")
        subprocess.run([str(LAB), "up"], check=True)
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", "pl-inet", str(BIN / "postern-idc-emulator"), "--listen", "192.0.2.90:80",
             "--public-url", AWS, "--start-url", "https://lab.awsapps.com/start",
             "--nat-address", "203.0.113.10/32", "--lifetime", "900"], stdout=subprocess.PIPE, text=True))
        procs[-1].stdout.readline()
        policy = home / "policy.toml"
        policy.write_text(
            '[identity_center]\nstart_url = "https://lab.awsapps.com/start"\nregion = "eu-west-1"\n\n'
            '[egress]\necho_urls = ["http://192.0.2.80/"]\nallow_plain_http = true\n'
            'nat_addresses = ["203.0.113.10/32"]\n\n'
            '[posture]\n[posture.linux]\nmin_kernel = "4.0"\nforbidden_processes = ["nc"]\n\n'
            '[[access]]\naccount = "111122223333"\nrole = "Developer"\nmax_duration = "1h"\n')
        env = dict(os.environ, HOME=str(home), POSTERN_POLICY=str(policy),
                   XDG_STATE_HOME=str(home / "state"), XDG_DATA_HOME=str(home / "data"),
                   XDG_CONFIG_HOME=str(home / "config"),
                   POSTERN_AGENT_SOCKET=str(home / "agent" / "agent.sock"),
                   POSTERN_HELPER_SOCKET=str(home / "helper.sock"), BROWSER="/bin/false",
                   AWS_ENDPOINT_URL_SSO_OIDC=AWS, AWS_ENDPOINT_URL_SSO=AWS)
        print(f"policy: {policy}")
        print(policy.read_text())

        say("Postern's privileged VPN helper and the per-user agent, on the laptop")
        procs.append(subprocess.Popen(["ip", "netns", "exec", "pl-laptop", str(BIN / "postern-helper"),
                                       "--socket", str(home / "helper.sock"), "--state-dir", str(home / "tunnel")],
                                      stderr=subprocess.DEVNULL))
        profile = home / "corp.ovpn"
        subprocess.run([str(LAB), "profile", "alice.lab.test", str(profile)], check=True)
        shown([str(BIN / "postern"), "vpn", "import", str(profile)], env)
        procs.append(subprocess.Popen(["ip", "netns", "exec", "pl-laptop", str(BIN / "postern"), "agent", "--no-browser"],
                                      env=env, stderr=subprocess.DEVNULL))
        for _ in range(100):
            if (home / "agent" / "agent.sock").exists() and (home / "helper.sock").exists():
                break
            time.sleep(0.05)
        say("Before the VPN: the laptop's traffic does not leave through the NAT")
        shown(["ip", "netns", "exec", "pl-laptop", str(BIN / "postern"), "egress"], env, check=False)

        say("Connect: sign in, posture, VPN, egress, credentials")
        print("$ postern connect corp --account 111122223333 --role Developer", flush=True)
        connect = subprocess.Popen([str(BIN / "postern"), "connect", "corp", "--account", "111122223333",
                                    "--role", "Developer"], env=env, stderr=subprocess.PIPE, text=True)
        for line in connect.stderr:
            print(line, end="", flush=True)
            if line.startswith("Code: "):
                print("(the lab approves the code on its sign-in page, as the employee would)", flush=True)
                subprocess.run(["ip", "netns", "exec", "pl-laptop", "curl", "-s", "-o", "/dev/null", "-d",
                                f"user_code={line.split()[1]}&decision=approve", AWS + "/device"], check=True)
        if connect.wait(timeout=120) != 0:
            raise SystemExit("demo: connect failed")
        shown([str(BIN / "postern"), "aws-config", "install"], env)

        say("The AWS CLI through the installed profile: accepted, because it comes from the NAT")
        aws_env = dict(env, AWS_ENDPOINT_URL_STS=AWS, AWS_DEFAULT_REGION="eu-west-1")
        shown(["ip", "netns", "exec", "pl-laptop", "aws", "sts", "get-caller-identity",
               "--profile", "postern-111122223333-Developer"], aws_env)

        say("The VPN server dies: Postern withdraws the credentials")
        subprocess.run([str(LAB), "server", "stop"], check=True)
        for _ in range(100):
            if subprocess.run([str(BIN / "postern"), "credentials", "--account", "111122223333", "--role",
                               "Developer"], env=env, capture_output=True).returncode != 0:
                break
            time.sleep(0.1)
        shown([str(BIN / "postern"), "credentials", "--account", "111122223333", "--role", "Developer"], env,
              check=False)
        shown([str(BIN / "postern"), "status"], env)
        subprocess.run([str(LAB), "server", "start"], check=True)
        shown([str(BIN / "postern"), "disconnect"], env)
        return 0
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        if not lab_was_up:
            subprocess.run([str(LAB), "down"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
