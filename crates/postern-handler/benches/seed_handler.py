#!/usr/bin/env python3
"""The peer of the cold-start benchmark: a client-connect handler in Python with the logic the
project started from (deny listed certificate names with the admin's message, allow the rest),
on a Lambda custom-runtime loop from the standard library only: the least a Python handler
starts with (AWS's managed Python runtime adds its own bootstrap on top).
"""
import json
import os
import tomllib
import urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"

with open(os.environ["POSTERN_POLICY"], "rb") as f:
    RULES = tomllib.load(f).get("handler", {})
BLOCKED = set(RULES.get("blocked_common_names", []))
MESSAGE = RULES.get("deny_message", "Access denied")


def decide(event):
    allowed = event.get("common-name") not in BLOCKED
    return {
        "allow": allowed,
        "error-msg-on-denied-connection": "" if allowed else MESSAGE,
        "posture-compliance-statuses": [],
        "schema-version": "v3",
    }


while True:
    with urllib.request.urlopen(API + "next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    body = json.dumps(decide(event)).encode()
    urllib.request.urlopen(urllib.request.Request(API + request_id + "/response", data=body))
