"""The emulator speaks what AWS's own client speaks.

botocore (from PyPI) drives every SSO-OIDC and portal operation against the emulator through
AWS_ENDPOINT_URL_SSO_OIDC / AWS_ENDPOINT_URL_SSO-style overrides; every response is checked
member by member against AWS's published service models shipped inside botocore, and every
modeled error must arrive as botocore's modeled exception class.
"""
import configparser
import datetime
import hashlib
import json
import os
import subprocess
import time

import botocore.session
import pytest

from conftest import BIN

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"

PY_TYPES = {
    "string": str, "integer": int, "long": int, "boolean": bool,
    "list": list, "structure": dict, "map": dict,
}


def check_shape(shape, value, path="output"):
    """Every member the emulator sent exists in the model with the modeled type."""
    if shape.type_name == "structure":
        assert isinstance(value, dict), path
        for key, member_value in value.items():
            if key == "ResponseMetadata":
                continue
            assert key in shape.members, f"{path}.{key} is not in the service model"
            check_shape(shape.members[key], member_value, f"{path}.{key}")
        for name in shape.required_members:
            assert name in value, f"{path}.{name} is required by the model"
    elif shape.type_name == "list":
        assert isinstance(value, list), path
        for i, item in enumerate(value):
            check_shape(shape.member, item, f"{path}[{i}]")
    else:
        assert isinstance(value, PY_TYPES[shape.type_name]), f"{path}: {type(value)} vs {shape.type_name}"


def clients(url):
    s = botocore.session.get_session()
    oidc = s.create_client("sso-oidc", region_name="eu-west-1", endpoint_url=url)
    portal = s.create_client("sso", region_name="eu-west-1", endpoint_url=url)
    return oidc, portal


def checked(client, op, **params):
    out = getattr(client, op)(**params)
    model = client.meta.service_model.operation_model(
        client.meta.method_to_api_mapping[op])
    check_shape(model.output_shape, out)
    return out


def register(oidc):
    return checked(oidc, "register_client", clientName="wire-test", clientType="public",
                   scopes=["sso:account:access"],
                   grantTypes=[DEVICE, "refresh_token", "authorization_code"],
                   redirectUris=["http://127.0.0.1/oauth/callback"])


def device_token(emulator, oidc, reg):
    auth = checked(oidc, "start_device_authorization", clientId=reg["clientId"],
                   clientSecret=reg["clientSecret"], startUrl=emulator.start_url)
    with pytest.raises(oidc.exceptions.AuthorizationPendingException):
        oidc.create_token(clientId=reg["clientId"], clientSecret=reg["clientSecret"],
                          grantType=DEVICE, deviceCode=auth["deviceCode"])
    emulator.approve(auth["userCode"])
    time.sleep(auth["interval"])
    return checked(oidc, "create_token", clientId=reg["clientId"],
                   clientSecret=reg["clientSecret"], grantType=DEVICE,
                   deviceCode=auth["deviceCode"])


def test_every_oidc_and_portal_operation_matches_the_service_model(emulator):
    oidc, portal = clients(emulator.url)
    reg = register(oidc)
    assert reg["clientSecretExpiresAt"] > time.time()  # epoch seconds, as modeled
    token = device_token(emulator, oidc, reg)
    assert token["tokenType"] == "Bearer" and token["expiresIn"] > 0 and token["refreshToken"]
    refreshed = checked(oidc, "create_token", clientId=reg["clientId"],
                        clientSecret=reg["clientSecret"], grantType="refresh_token",
                        refreshToken=token["refreshToken"])
    access = refreshed["accessToken"]

    emulator.knobs(max_page=2)
    pages = list(portal.get_paginator("list_accounts").paginate(accessToken=access))
    assert len(pages) == 2
    for page in pages:
        model = portal.meta.service_model.operation_model("ListAccounts")
        check_shape(model.output_shape, page)
    accounts = [a["accountId"] for p in pages for a in p["accountList"]]
    assert accounts == ["111122223333", "444455556666", "777788889999"]
    roles = checked(portal, "list_account_roles", accessToken=access, accountId="111122223333")
    assert [r["roleName"] for r in roles["roleList"]] == ["Developer", "ReadOnly"]
    creds = checked(portal, "get_role_credentials", accessToken=access,
                    accountId="111122223333", roleName="Developer")["roleCredentials"]
    # Epoch milliseconds, as the model documents (not seconds).
    assert creds["expiration"] > time.time() * 1000 + 50 * 60 * 1000
    assert creds["accessKeyId"].startswith("ASIA") and len(creds["accessKeyId"]) == 20
    portal.logout(accessToken=access)
    with pytest.raises(portal.exceptions.UnauthorizedException):
        portal.list_accounts(accessToken=access)


def test_errors_arrive_as_the_modeled_exceptions(emulator):
    oidc, portal = clients(emulator.url)
    reg = register(oidc)
    auth = oidc.start_device_authorization(clientId=reg["clientId"],
                                           clientSecret=reg["clientSecret"],
                                           startUrl=emulator.start_url)
    poll = dict(clientId=reg["clientId"], clientSecret=reg["clientSecret"], grantType=DEVICE,
                deviceCode=auth["deviceCode"])
    emulator.knobs(slow_down_next=1)
    with pytest.raises(oidc.exceptions.SlowDownException) as e:
        oidc.create_token(**poll)
    assert e.value.response["Error"]["Message"] == "Client is polling too quickly"
    time.sleep(1.1)
    emulator.knobs(deny_next_poll=True)
    with pytest.raises(oidc.exceptions.AccessDeniedException):
        oidc.create_token(**poll)
    with pytest.raises(oidc.exceptions.InvalidClientException) as e:
        oidc.create_token(**dict(poll, clientSecret="wrong"))
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401
    with pytest.raises(oidc.exceptions.InvalidGrantException):
        oidc.create_token(**dict(poll, deviceCode="unknown"))
    with pytest.raises(oidc.exceptions.InvalidScopeException):
        oidc.register_client(clientName="x", clientType="public", scopes=["openid:all"])
    emulator.knobs(device_code_ttl_secs=0)
    expired = oidc.start_device_authorization(clientId=reg["clientId"],
                                              clientSecret=reg["clientSecret"],
                                              startUrl=emulator.start_url)
    with pytest.raises(oidc.exceptions.ExpiredTokenException):
        oidc.create_token(**dict(poll, deviceCode=expired["deviceCode"]))
    emulator.knobs(wrong_region=True)
    with pytest.raises(oidc.exceptions.InvalidRequestRegionException):
        oidc.start_device_authorization(clientId=reg["clientId"],
                                        clientSecret=reg["clientSecret"],
                                        startUrl=emulator.start_url)
    with pytest.raises(portal.exceptions.UnauthorizedException):
        portal.get_role_credentials(accessToken="nope", accountId="1", roleName="x")


def write_sso_profile(home, emulator, session_name):
    aws = home / ".aws"
    aws.mkdir(exist_ok=True)
    config = configparser.ConfigParser()
    config[f"sso-session {session_name}"] = {
        "sso_start_url": emulator.start_url, "sso_region": "eu-west-1",
        "sso_registration_scopes": "sso:account:access"}
    config["profile dev"] = {"sso_session": session_name, "sso_account_id": "111122223333",
                             "sso_role_name": "Developer", "region": "eu-west-1"}
    with open(aws / "config", "w") as f:
        config.write(f)


def botocore_credentials(home, emulator):
    """Resolves the `dev` profile's credentials in a fresh process, as a user's tool would
    (botocore fixes the cache directory from HOME when it is imported)."""
    env = dict(os.environ, HOME=str(home), AWS_CONFIG_FILE=str(home / ".aws" / "config"),
               AWS_ENDPOINT_URL_SSO_OIDC=emulator.url, AWS_ENDPOINT_URL_SSO=emulator.url)
    script = ("import botocore.session, json; "
              "c = botocore.session.Session(profile='dev').get_credentials().get_frozen_credentials(); "
              "print(json.dumps({'access_key': c.access_key, 'token': bool(c.token)}))")
    out = subprocess.run(["python3", "-c", script], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_botocore_refreshes_a_cached_token_and_fetches_role_credentials(emulator, tmp_path):
    oidc, _ = clients(emulator.url)
    reg = register(oidc)
    token = device_token(emulator, oidc, reg)
    write_sso_profile(tmp_path, emulator, "lab")
    soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=2)
    cache = tmp_path / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    cache_file = cache / (hashlib.sha1(b"lab").hexdigest() + ".json")
    cache_file.write_text(json.dumps({
        "startUrl": emulator.start_url, "region": "eu-west-1",
        "accessToken": token["accessToken"], "expiresAt": soon.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "clientId": reg["clientId"], "clientSecret": reg["clientSecret"],
        "registrationExpiresAt": "2099-01-01T00:00:00Z", "refreshToken": token["refreshToken"]}))
    before = emulator.stats()["token_refresh"]

    creds = botocore_credentials(tmp_path, emulator)

    # Less than 15 minutes left: botocore refreshed through the emulator and rewrote the cache.
    assert emulator.stats()["token_refresh"] == before + 1
    rewritten = json.loads(cache_file.read_text())
    assert rewritten["accessToken"] != token["accessToken"]
    assert creds["access_key"] in [c["accessKeyId"] for c in emulator.issued()]


def test_postern_export_is_reused_by_botocore(emulator, tmp_path):
    """`postern login --export-aws-cli-cache` writes a cache file botocore accepts as is."""
    (tmp_path / "policy.toml").write_text(
        f'[identity_center]\nstart_url = "{emulator.start_url}"\nregion = "eu-west-1"\n'
        f'oidc_endpoint = "{emulator.url}"\nportal_endpoint = "{emulator.url}"\n')
    env = dict(os.environ, HOME=str(tmp_path), POSTERN_POLICY=str(tmp_path / "policy.toml"),
               XDG_STATE_HOME=str(tmp_path / "state"), BROWSER="/bin/false")
    login = subprocess.Popen([str(BIN / "postern"), "login", "--device-code", "--no-browser",
                              "--export-aws-cli-cache"], env=env, stderr=subprocess.PIPE, text=True)
    code = None
    for _ in range(50):
        line = login.stderr.readline()
        if line.startswith("Code: "):
            code = line.split()[1]
            break
    assert code, "postern printed no code"
    emulator.approve(code)
    assert login.wait(timeout=30) == 0
    write_sso_profile(tmp_path, emulator, "postern")
    creds = botocore_credentials(tmp_path, emulator)
    assert creds["access_key"].startswith("ASIA")
    assert emulator.stats()["token_refresh"] == 0, "the exported token was fresh: no refresh"
    assert creds["access_key"] in [c["accessKeyId"] for c in emulator.issued()]
