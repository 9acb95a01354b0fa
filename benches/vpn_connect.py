#!/usr/bin/env python3
"""Benchmark: time to a CONNECTED tunnel through Postern's helper vs plain OpenVPN, same lab,
same profile, same run. Needs root, the lab (tests/lab/lab) and `cargo build` binaries.

  python3 benches/vpn_connect.py [ITERATIONS]

Prints, per path, the median and range in milliseconds:
  plain  hold→CONNECTED : `hold release` to `>STATE:…CONNECTED` on OpenVPN's management socket
  plain  spawn→CONNECTED: process start to CONNECTED (the same, plus OpenVPN's start-up)
  helper request→CONNECTED: the Connect request to the Connected state, as a client sees it
                            (validation, profile write, OpenVPN start-up, hold release, handshake)
and the ratio helper / plain spawn→CONNECTED (the like-for-like pair; target ≤ 1.2).
"""
import json
import os
import pathlib
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAB = ROOT / "tests" / "lab" / "lab"
BIN = ROOT / "target" / "debug"


def frame(s, obj):
    body = json.dumps(obj).encode()
    s.sendall(struct.pack(">I", len(body)) + body)


def read(s):
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            raise EOFError
        head += chunk
    n = struct.unpack(">I", head)[0]
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    return json.loads(body)


def helper_session(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(path))
    frame(s, {"type": "hello", "protocol_version": 1, "client": "bench"})
    assert read(s)["type"] == "welcome"
    return s


def through_helper(sock_path, profile):
    watch = helper_session(sock_path)
    frame(watch, {"type": "watch"})
    read(watch)  # current state
    control = helper_session(sock_path)
    t0 = time.perf_counter()
    frame(control, {"type": "connect", "profile_name": "bench", "profile": profile})
    read(control)
    while True:
        state = read(watch)
        if state.get("state") == "connected":
            elapsed = time.perf_counter() - t0
            break
        if state.get("state") in ("failed", "disconnected"):
            raise RuntimeError(f"helper: {state}")
    frame(control, {"type": "disconnect"})
    read(control)
    watch.close()
    control.close()
    return elapsed * 1000


def plain(profile_file, work):
    mgmt = work / "plain-mgmt.sock"
    if mgmt.exists():
        mgmt.unlink()
    t_spawn = time.perf_counter()
    proc = subprocess.Popen(
        ["ip", "netns", "exec", "pl-laptop", "openvpn", "--config", str(profile_file),
         "--script-security", "1", "--management", str(mgmt), "unix", "--management-hold",
         "--management-query-passwords", "--verb", "3"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(400):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(mgmt))
            break
        except OSError:
            time.sleep(0.005)
    f = s.makefile("rwb", buffering=0)
    f.write(b"state on\n")
    t_hold = time.perf_counter()
    f.write(b"hold release\n")
    while True:
        line = f.readline().decode()
        if not line:
            raise RuntimeError("plain openvpn exited")
        if line.startswith(">STATE:") and ",CONNECTED," in line:
            t_up = time.perf_counter()
            break
    f.write(b"signal SIGTERM\n")
    proc.wait(timeout=15)
    s.close()
    return (t_up - t_hold) * 1000, (t_up - t_spawn) * 1000


def summary(name, values):
    print(f"{name:32s} median {statistics.median(values):7.1f} ms   "
          f"min {min(values):7.1f}   max {max(values):7.1f}   n={len(values)}")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    subprocess.run([str(LAB), "up"], check=True, stdout=subprocess.DEVNULL)
    work = pathlib.Path(tempfile.mkdtemp(prefix="postern-bench-"))
    profile_file = work / "alice.ovpn"
    subprocess.run([str(LAB), "profile", "alice.lab.test", str(profile_file)], check=True)
    profile = profile_file.read_text()
    sock_path = work / "helper.sock"
    helper = subprocess.Popen(
        ["ip", "netns", "exec", "pl-laptop", str(BIN / "postern-helper"), "--socket",
         str(sock_path), "--state-dir", str(work / "state")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if sock_path.exists():
                break
            time.sleep(0.05)
        # One warm-up of each, then alternate so both see the same machine conditions.
        through_helper(sock_path, profile)
        plain(profile_file, work)
        h, p_hold, p_spawn = [], [], []
        for _ in range(n):
            h.append(through_helper(sock_path, profile))
            hold, spawn = plain(profile_file, work)
            p_hold.append(hold)
            p_spawn.append(spawn)
        print(f"OpenVPN {subprocess.run(['openvpn', '--version'], capture_output=True, text=True).stdout.split()[1]}, lab UDP, {n} iterations each")
        summary("plain  hold release→CONNECTED", p_hold)
        summary("plain  spawn→CONNECTED", p_spawn)
        summary("helper request→CONNECTED", h)
        print(f"ratio helper / plain spawn→CONNECTED: {statistics.median(h) / statistics.median(p_spawn):.2f}x "
              f"(target ≤ 1.2x)")
        print(f"ratio helper / plain hold→CONNECTED:  {statistics.median(h) / statistics.median(p_hold):.2f}x")
    finally:
        helper.terminate()
        helper.wait(timeout=15)


if __name__ == "__main__":
    main()
