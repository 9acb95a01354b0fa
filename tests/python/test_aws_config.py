"""The profiles `postern aws-config install` writes, read by botocore itself: a `postern`
installed under a path with spaces (as under C:\\Program Files) must still be one program in
`credential_process`, split the way botocore splits it on each platform."""
import os
import shutil
import subprocess

import botocore.session
from botocore.compat import compat_shell_split

from conftest import BIN


def test_a_program_path_with_spaces_stays_one_word_for_botocore(tmp_path):
    program_dir = tmp_path / "Program Files" / "Postern"
    program_dir.mkdir(parents=True)
    postern = program_dir / "postern"
    shutil.copy(BIN / "postern", postern)
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
    for platform in ("linux", "win32"):
        words = compat_shell_split(profile["credential_process"], platform=platform)
        assert words[0] == str(postern), (platform, words)
        assert words[1:] == ["credentials", "--account", "111122223333", "--role", "Developer"]
