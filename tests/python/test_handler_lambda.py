"""The handler's Lambda door, driven through the Lambda Runtime API as AWS Lambda drives it
(next invocation, response), with the events AWS Client VPN sends."""
import http.server
import json
import os
import subprocess
import threading
import time

from conftest import BIN

EVENT = {
    "connection-id": "cvpn-connection-04e7e1b2f0daf9460", "endpoint-id": "cvpn-endpoint-0123456789abcdef0",
    "common-name": "alice.lab.test", "username": "alice", "platform": "linux", "platform-version": "6.1.0",
    "public-ip": "198.51.100.10", "client-openvpn-version": "2.6.14", "schema-version": "v2", "groups": [],
}


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    events = []
    responses = {}

    def do_GET(self):
        if not self.path.endswith("/runtime/invocation/next"):
            self.send_error(404)
            return
        while not RuntimeApi.events:
            time.sleep(0.05)  # as Lambda does: block until there is work (the test ends us)
        request_id, event = RuntimeApi.events.pop(0)
        body = json.dumps(event).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                         "arn:aws:lambda:eu-west-1:111122223333:function:AWSClientVPN-postern")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        request_id = self.path.split("/")[-2]
        RuntimeApi.responses[request_id] = (self.path.split("/")[-1], json.loads(body or b"null"))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_lambda_door_answers_each_invocation(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text('[identity_center]\nstart_url = "https://x.awsapps.com/start"\nregion = "eu-west-1"\n'
                      '[handler]\nblocked_users = ["mallory"]\n')
    RuntimeApi.events = [("ok-1", EVENT), ("blocked-2", dict(EVENT, username="mallory")),
                         ("malformed-3", {"allow": "true"})]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}",
               AWS_LAMBDA_FUNCTION_NAME="AWSClientVPN-postern", AWS_LAMBDA_FUNCTION_VERSION="1",
               AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128", AWS_LAMBDA_LOG_STREAM_NAME="s",
               AWS_LAMBDA_LOG_GROUP_NAME="g")
    handler = subprocess.Popen([str(BIN / "postern-handler"), "--policy", str(policy), "lambda"], env=env,
                               stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if len(RuntimeApi.responses) == 3:
                break
            time.sleep(0.05)
    finally:
        handler.kill()
        handler.wait()
        server.shutdown()
    kind, ok = RuntimeApi.responses["ok-1"]
    assert kind == "response"
    assert ok == {"allow": True, "error-msg-on-denied-connection": "",
                  "posture-compliance-statuses": ["compliant"], "schema-version": "v2"}
    assert RuntimeApi.responses["blocked-2"][1]["allow"] is False
    assert RuntimeApi.responses["blocked-2"][1]["error-msg-on-denied-connection"] == "The user mallory is blocked."
    malformed = RuntimeApi.responses["malformed-3"][1]
    assert malformed["allow"] is False
    assert malformed["error-msg-on-failed-posture-compliance"].startswith("Error establishing connection")
