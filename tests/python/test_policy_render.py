"""`postern policy render` output, linted by parliament (PyPI), a real IAM policy linter.

parliament 1.6.4's condition database predates the global key aws:ViaAWSService for the
services RCPs cover, so it reports "unknown condition for action" (MEDIUM) for each of them on
the RCP; AWS's own data-perimeter RCP examples use that key. That one finding is allowed,
explicitly, and nothing else is."""
import json
import subprocess

import pytest
from parliament import analyze_policy_string, enhance_finding

from conftest import BIN

SEVERITY = {"INFO": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}


def render(tmp_path, kind):
    policy = tmp_path / "policy.toml"
    policy.write_text('[identity_center]\nstart_url = "https://x.awsapps.com/start"\nregion = "eu-west-1"\n'
                      '[egress]\nnat_addresses = ["203.0.113.10/32", "203.0.113.11/32"]\n')
    out = subprocess.run([str(BIN / "postern"), "--policy", str(policy), "policy", "render", "--kind", kind],
                         capture_output=True, text=True, check=True)
    return out.stdout


def outdated_database(finding):
    return finding.issue == "UNKNOWN_CONDITION_FOR_ACTION" and "aws:ViaAWSService" in str(finding.detail)


@pytest.mark.parametrize("kind", ["iam", "scp", "rcp"])
def test_rendered_policies_lint_clean(tmp_path, kind):
    text = render(tmp_path, kind)
    doc = json.loads(text)
    assert doc["Version"] == "2012-10-17"
    assert doc["Statement"][0]["Effect"] == "Deny"
    findings = [enhance_finding(f) for f in analyze_policy_string(text).findings]
    serious = [(f.issue, f.severity, f.detail) for f in findings
               if SEVERITY.get(f.severity, 4) > SEVERITY["LOW"] and not (kind == "rcp" and outdated_database(f))]
    assert serious == [], serious
    if kind != "rcp":
        assert findings == [], [(f.issue, f.detail) for f in findings]


def test_rendering_is_stable(tmp_path):
    assert render(tmp_path, "scp") == render(tmp_path, "scp")


def test_the_linter_would_catch_a_broken_policy():
    broken = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:GetObjekt","Resource":"*"}]}'
    assert [enhance_finding(f).issue for f in analyze_policy_string(broken).findings] == ["UNKNOWN_ACTION"]
