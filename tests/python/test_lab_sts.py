"""The lab's AWS endpoint as the real AWS CLI (awscli from PyPI) sees it: SigV4-signed STS
GetCallerIdentity with the role credentials the portal issued, and the organization's
deny-unless-NAT policy enforced on the caller's source address."""
import json
import os
import subprocess

import botocore.session

from test_identity_center_wire import clients, device_token, register


def role_credentials(emulator):
    oidc, portal = clients(emulator.url)
    reg = register(oidc)
    token = device_token(emulator, oidc, reg)
    return portal.get_role_credentials(accessToken=token["accessToken"], accountId="111122223333",
                                       roleName="Developer")["roleCredentials"]


def aws_cli(emulator, creds, secret=None):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=creds["accessKeyId"],
               AWS_SECRET_ACCESS_KEY=secret or creds["secretAccessKey"],
               AWS_SESSION_TOKEN=creds["sessionToken"], AWS_DEFAULT_REGION="eu-west-1",
               AWS_ENDPOINT_URL_STS=emulator.url, AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    return subprocess.run(["aws", "sts", "get-caller-identity", "--output", "json"], env=env,
                          capture_output=True, text=True, timeout=60)


def test_signed_calls_from_the_nat_succeed(emulator_factory):
    emulator = emulator_factory("--nat-address", "127.0.0.0/8")
    creds = role_credentials(emulator)
    run = aws_cli(emulator, creds)
    assert run.returncode == 0, run.stderr
    identity = json.loads(run.stdout)
    assert identity["Account"] == "111122223333"
    assert identity["Arn"].endswith(":assumed-role/AWSReservedSSO_Developer_0123456789abcdef/alice")


def test_the_same_credentials_from_another_address_are_denied(emulator_factory):
    emulator = emulator_factory("--nat-address", "203.0.113.10/32")
    creds = role_credentials(emulator)
    run = aws_cli(emulator, creds)
    assert run.returncode != 0
    assert "AccessDenied" in run.stderr
    assert "explicit deny in an identity-based policy" in run.stderr
    assert emulator.stats()["sts_denied"] == 1


def test_bad_signatures_and_unknown_keys_are_refused(emulator_factory):
    emulator = emulator_factory("--nat-address", "127.0.0.0/8")
    creds = role_credentials(emulator)
    run = aws_cli(emulator, creds, secret="x" * 40)
    assert "SignatureDoesNotMatch" in run.stderr, run.stderr
    session = botocore.session.get_session()
    sts = session.create_client("sts", region_name="eu-west-1", endpoint_url=emulator.url,
                                aws_access_key_id="ASIAUNKNOWNKEY000000", aws_secret_access_key="y" * 40,
                                aws_session_token="z")
    try:
        sts.get_caller_identity()
        raise AssertionError("an unknown key was accepted")
    except sts.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "InvalidClientTokenId"
