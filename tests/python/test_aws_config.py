"""The profiles `postern aws-config install` writes, read by botocore itself: the program
`credential_process` names (`postern-credentials` where it is installed beside `postern`, else
`postern credentials`) must stay one word under a path with spaces (as under C:\\Program Files),
split the way botocore splits it on each platform."""
import os
import shutil
import subprocess

import botocore.session
import pytest
from botocore.compat import compat_shell_split
from botocore.exceptions import CredentialRetrievalError

from conftest import BIN


@pytest.mark.parametrize("dedicated", [True, False], ids=["postern-credentials", "postern credentials"])
def test_a_program_path_with_spaces_stays_one_word_for_botocore(tmp_path, monkeypatch, dedicated):
    program_dir = tmp_path / "Program Files" / "Postern"
    program_dir.mkdir(parents=True)
    postern = program_dir / "postern"
    shutil.copy(BIN / "postern", postern)
    if dedicated:
        shutil.copy(BIN / "postern-credentials", program_dir / "postern-credentials")
    policy = tmp_path / "policy.toml"
    policy.write_text('[identity_center]\nstart_url = "https://x.awsapps.com/start"\nregion = "eu-west-1"\n\n'
                      '[[access]]\naccount = "111122223333"\nrole = "Developer"\nrequire = []\nregion = "eu-central-1"\n')
    config = tmp_path / "config"
    subprocess.run([str(postern), "aws-config", "install"], check=True, capture_output=True,
                   env=dict(os.environ, POSTERN_POLICY=str(policy), AWS_CONFIG_FILE=str(config)))
    session = botocore.session.Session()
    session.set_config_variable("config_file", str(config))
    profile = session.full_config["profiles"]["postern-111122223333-Developer"]
    assert profile["region"] == "eu-central-1"
    program = [str(program_dir / "postern-credentials")] if dedicated else [str(postern), "credentials"]
    for platform in ("linux", "win32"):
        words = compat_shell_split(profile["credential_process"], platform=platform)
        assert words == program + ["--account", "111122223333", "--role", "Developer"], (platform, words)
    # botocore runs it: with no agent the caller sees Postern's reason, not a parse error.
    monkeypatch.setenv("POSTERN_AGENT_SOCKET", str(tmp_path / "no-agent.sock"))
    runner = botocore.session.Session(profile="postern-111122223333-Developer")
    runner.set_config_variable("config_file", str(config))
    with pytest.raises(CredentialRetrievalError, match="The Postern agent is not running"):
        runner.get_credentials()
