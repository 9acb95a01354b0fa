"""The macOS package's sources under installers/macos, checked here where none of them can run:
the plists and the example profile say what Postern expects, the scripts are valid shell, and
every installed path the launchd plists and the scripts name is one that build-pkg.sh stages,
from a binary this workspace builds. The staging is read from build-pkg.sh's own lines, so a
file renamed on one side only fails here rather than on a Mac after install."""
import fnmatch
import json
import os
import plistlib
import posixpath
import re
import shlex
import subprocess
import tomllib
import uuid
import xml.etree.ElementTree as ET

import pytest

from conftest import ROOT

MACOS = ROOT / "installers" / "macos"
BUILD_SCRIPT = MACOS / "build-pkg.sh"
SCRIPTS = MACOS / "scripts"
POLICY = "/Library/Application Support/Postern/policy.toml"
# Where the package puts files; paths elsewhere (logs, run state, the policy) are made at run time.
PAYLOAD_PREFIXES = ("/Applications/", "/usr/local/", "/Library/PrivilegedHelperTools/",
                    "/Library/LaunchDaemons/")


def load_plist(name):
    with open(MACOS / name, "rb") as f:
        return plistlib.load(f)


def logical_lines(text):
    """Shell lines with backslash continuations joined, blank lines and comments dropped."""
    lines, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.strip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        lines.append((pending + line).strip())
        pending = ""
    assert not pending, "a continuation runs past the end of the script"
    return lines


SEPARATORS = {";", ";;", "&&", "||", "|", "&", "(", ")"}


def commands(text, name):
    """The words of every command `name` in a script, wherever it sits (after `must`, `if !`,
    `||`, `launchctl asuser`), up to the end of that command."""
    found = []
    for line in logical_lines(text):
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = ""
        words = list(lexer)
        for start, word in enumerate(words):
            if word != name:
                continue
            end = next((i for i in range(start, len(words)) if words[i] in SEPARATORS), len(words))
            found.append(words[start:end])
    return found


def option(words, flag):
    return words[words.index(flag) + 1] if flag in words else None


def build_script():
    return BUILD_SCRIPT.read_text()


def package_builds():
    """build-pkg.sh's pkgbuild runs (not the --analyze one), each as its options."""
    builds = []
    for words in commands(build_script(), "pkgbuild"):
        if "--analyze" in words:
            continue
        builds.append({"root": option(words, "--root"), "identifier": option(words, "--identifier"),
                       "version": option(words, "--version"), "scripts": option(words, "--scripts"),
                       "location": option(words, "--install-location"), "output": words[-1]})
    return builds


def staged():
    """{installed path: (mode, source)}: each `install -m MODE SRC ROOT/PATH` and `ditto SRC
    ROOT/PATH` of build-pkg.sh, through the install location of the pkgbuild that packs ROOT."""
    roots = {b["root"]: b["location"] for b in package_builds()}
    script_dirs = {b["scripts"] for b in package_builds() if b["scripts"]}
    placed = {}
    copies = [(option(w, "-m"), w[-2], w[-1]) for w in commands(build_script(), "install") if "-d" not in w]
    copies += [(None, w[-2], w[-1]) for w in commands(build_script(), "ditto")]
    for mode, source, dest in copies:
        root = next((r for r in roots if dest.startswith(r + "/")), None)
        if root is None:
            assert posixpath.dirname(dest) in script_dirs, f"{dest} is in no package"
            continue
        placed[posixpath.join(roots[root], dest[len(root) + 1:])] = (mode, source)
    return placed


def installed_or_inside_installed(path, placed):
    return path in placed or any(path.startswith(p + "/") for p in placed if p.endswith(".app"))


def workspace_version():
    return tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["version"]


def tauri_config():
    return json.loads((ROOT / "src-tauri" / "tauri.conf.json").read_text())


def binaries(crate_dir):
    """The binaries a workspace member builds: its [[bin]] targets, or its package's name for a
    src/main.rs."""
    manifest = tomllib.loads((ROOT / crate_dir / "Cargo.toml").read_text())
    names = {b["name"] for b in manifest.get("bin", [])}
    if not names and (ROOT / crate_dir / "src" / "main.rs").exists():
        names.add(manifest["package"]["name"])
    return names


def workspace_binaries():
    members = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["members"]
    return set().union(*(binaries(m) for m in members))


def named_payload_paths(text):
    """Absolute paths under the package's install prefixes that a file names."""
    prefixes = "|".join(re.escape(p) for p in PAYLOAD_PREFIXES)
    # Not a path's tail (/Users/*/Library/...), nor a variable's ($HOME/...).
    found = re.findall(rf"(?<![\w/.*$}}-])((?:{prefixes})[^\s\"'<>;|&)]+)", text)
    return {p.rstrip("/") for p in found}


def removals(text):
    """(recursive, target) for every rm in a script."""
    removed = []
    for words in commands(text, "rm"):
        flags = "".join(w.lstrip("-") for w in words[1:] if w.startswith("-"))
        removed += [("r" in flags or "R" in flags, t) for t in words[1:] if not t.startswith("-")]
    return removed


# The LaunchAgent


def test_the_launch_agent_has_exactly_the_keys_that_start_the_app_once_at_login():
    agent = load_plist("com.postern.app.plist")
    assert agent == {
        "Label": "com.postern.app",
        "ProgramArguments": ["/Applications/Postern.app/Contents/MacOS/postern-app", "--at-login"],
        "RunAtLoad": True,
        "LimitLoadToSessionType": "Aqua",
        "ProcessType": "Interactive",
    }
    # == takes 1 for True; launchd wants a boolean. No KeepAlive: Quit must quit.
    assert agent["RunAtLoad"] is True
    assert "KeepAlive" not in agent


def test_the_launch_agent_starts_the_executable_the_app_package_installs():
    program = load_plist("com.postern.app.plist")["ProgramArguments"][0]
    placed = staged()
    bundle, executable = re.fullmatch(r"(/Applications/[^/]+\.app)/Contents/MacOS/([^/]+)", program).groups()
    assert bundle in placed, f"build-pkg.sh installs no {bundle}: {sorted(placed)}"
    # The bundle is the Tauri bundler's, named after the product; its executable is the app's binary,
    # unless tauri.conf.json renames it.
    assert placed[bundle][1] == f"$release_dir/bundle/macos/{tauri_config()['productName']}.app"
    assert executable in binaries("src-tauri")
    assert tauri_config().get("mainBinaryName", executable) == executable
    # build-pkg.sh refuses a bundle whose executable is another one.
    match = re.search(r'\[ "\$app_executable" = (\S+) \]', build_script())
    assert match and match.group(1) == executable


def test_postinstall_starts_the_app_the_way_the_launch_agent_does():
    agent = load_plist("com.postern.app.plist")["ProgramArguments"]
    [open_app] = commands((SCRIPTS / "postinstall").read_text(), "open")
    app = option(open_app, "-a")
    assert agent[0].startswith(app + "/Contents/MacOS/")
    assert open_app[open_app.index("--args") + 1:] == agent[1:]
    assert "-g" in open_app, "in the background: an install must not bring a window up"


# The example configuration profile


def test_the_example_profile_is_a_system_configuration_with_valid_distinct_identifiers():
    profile = load_plist("dev.postern.desktop.mobileconfig")
    assert profile["PayloadType"] == "Configuration"
    assert profile["PayloadScope"] == "System"
    assert profile["PayloadDisplayName"] == "Postern (example)"
    assert type(profile["PayloadVersion"]) is int and profile["PayloadVersion"] == 1
    payloads = profile["PayloadContent"]
    assert isinstance(payloads, list) and len(payloads) == 1
    everything = [profile, *payloads]
    for payload in everything:
        for key in ("PayloadIdentifier", "PayloadUUID", "PayloadType"):
            assert isinstance(payload.get(key), str) and payload[key], f"{key} missing"
        assert type(payload.get("PayloadVersion")) is int, "PayloadVersion must be an integer"
        parsed = uuid.UUID(payload["PayloadUUID"])
        assert str(parsed).upper() == payload["PayloadUUID"].upper(), payload["PayloadUUID"]
    assert len({p["PayloadUUID"].upper() for p in everything}) == len(everything)
    assert len({p["PayloadIdentifier"] for p in everything}) == len(everything)


def test_the_example_profile_sets_postern_s_three_managed_settings_in_the_app_s_domain():
    [settings] = load_plist("dev.postern.desktop.mobileconfig")["PayloadContent"]
    # The preference domain is the app's bundle identifier.
    assert settings["PayloadType"] == "dev.postern.desktop" == tauri_config()["identifier"]
    values = {k: v for k, v in settings.items() if not k.startswith("Payload")}
    assert set(values) == {"PolicyFile", "StartAtLogin", "ConnectOnStart"}
    assert type(values["PolicyFile"]) is str
    assert type(values["StartAtLogin"]) is bool and type(values["ConnectOnStart"]) is bool
    assert values == {"PolicyFile": POLICY, "StartAtLogin": True, "ConnectOnStart": False}
    # The policy's macOS location, as postern-policy knows it.
    sources = "".join(p.read_text() for p in (ROOT / "crates" / "postern-policy" / "src").glob("*.rs"))
    assert POLICY in sources


def test_the_example_profile_matches_the_managed_preferences_fixture_when_present():
    fixture = ROOT / "crates" / "postern-policy" / "fixtures" / "managed" / "dev.postern.desktop.xml.plist"
    if not fixture.exists():
        pytest.skip(f"no {fixture.relative_to(ROOT)}")
    [settings] = load_plist("dev.postern.desktop.mobileconfig")["PayloadContent"]
    with open(fixture, "rb") as f:
        assert plistlib.load(f) == {k: v for k, v in settings.items() if not k.startswith("Payload")}


# Distribution.xml and the version


def distribution(text=None):
    return ET.fromstring(text if text is not None else (MACOS / "Distribution.xml").read_text())


def test_the_distribution_installs_both_packages_on_both_architectures_from_macos_13():
    root = distribution()
    assert root.tag == "installer-gui-script"
    assert root.findtext("title") == "Postern"
    options = root.find("options").attrib
    assert options["customize"] == "never" and options["require-scripts"] == "false"
    assert set(options["hostArchitectures"].split(",")) == {"arm64", "x86_64"}
    assert [v.get("min") for v in root.findall("allowed-os-versions/os-version")] == ["13.0"]
    references = {r.get("id"): r.text.strip() for r in root.findall("pkg-ref") if r.text and r.text.strip()}
    assert set(references) == {"dev.postern.app", "dev.postern.tools"}
    # productbuild finds each by file name in --package-path: the names pkgbuild writes.
    builds = {b["identifier"]: b for b in package_builds()}
    assert set(builds) == set(references)
    for identifier, file_name in references.items():
        assert builds[identifier]["output"] == f"$work/{file_name}"
    [package_path] = {option(w, "--package-path") for w in commands(build_script(), "productbuild")}
    assert package_path == "$work"


def test_the_distribution_has_one_choice_with_the_app_before_the_tools():
    root = distribution()
    [choice] = root.findall("choice")
    assert [r.get("id") for r in choice.findall("pkg-ref")] == ["dev.postern.app", "dev.postern.tools"]
    assert [line.get("choice") for line in root.iter("line")] == [choice.get("id")]


def test_the_version_is_the_workspace_s_in_every_place_the_script_substitutes():
    version = workspace_version()
    assert tauri_config()["version"] == version, "the app bundle's version is tauri.conf.json's"
    script = build_script()
    # The script's own reading of Cargo.toml (a sed -n 's/RE/\1/p'), applied here, finds that
    # version and nothing else.
    [reading] = [l for l in logical_lines(script) if l.startswith("version=$(sed -n ")]
    words = shlex.split(reading)
    assert words[-1] == "$repo_root/Cargo.toml)", reading
    basic_re = re.fullmatch(r"s/(.*)/\\1/p", words[2]).group(1)
    python_re = basic_re.replace("\\(", "(").replace("\\)", ")")
    cargo = (ROOT / "Cargo.toml").read_text()
    assert re.findall(python_re, cargo, re.M) == [version]
    assert re.fullmatch(r"[0-9]+(\.[0-9]+)*", version), "build-pkg.sh accepts digits and dots only"
    # Its substitution, applied as sed would (line by line; once per line without g).
    [(pattern, replacement, flags)] = re.findall(
        r'sed "s/([^/"]*)/([^/"]*)/(g?)" "\$script_dir/Distribution\.xml"', script)
    replacement = replacement.replace("$version", version).replace("${version}", version)
    template = (MACOS / "Distribution.xml").read_text()
    assert pattern in template
    result = "".join(re.sub(pattern, replacement, line, count=0 if flags == "g" else 1)
                     for line in template.splitlines(keepends=True))
    assert not re.search(r"@[A-Z_]+@", result), "a placeholder is left after substitution"
    versions = {r.get("version") for r in distribution(result).findall("pkg-ref") if r.get("version")}
    assert versions == {version}
    assert {b["version"] for b in package_builds()} == {"$version"}


# The scripts


@pytest.mark.parametrize("name, shell, shebang", [
    ("scripts/preinstall", "sh", "#!/bin/sh"),
    ("scripts/postinstall", "sh", "#!/bin/sh"),
    ("scripts/uninstall", "sh", "#!/bin/sh"),
    ("build-pkg.sh", "bash", "#!/bin/bash"),
])
def test_each_script_parses_is_executable_and_stops_at_the_first_failure(name, shell, shebang):
    path = MACOS / name
    text = path.read_text()
    assert text.splitlines()[0] == shebang
    checked = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    mode = path.stat().st_mode
    assert mode & 0o111 == 0o111, f"{name} is not executable ({oct(mode)}): chmod +x"
    [flags] = re.findall(r"^set -(\w+)", text, re.M)
    assert "e" in flags and "u" in flags
    if shell == "sh":
        # macOS runs these with its POSIX sh; dash -n above does not catch bash words.
        for bashism in ("[[", "==", "function ", "pipefail", "$'", "source "):
            assert bashism not in text, f"{name} uses {bashism!r}, which is not POSIX sh"


def test_the_build_script_refuses_to_run_anywhere_but_macos():
    if os.uname().sysname == "Darwin":
        pytest.skip("this is a Mac")
    ran = subprocess.run(["bash", str(BUILD_SCRIPT), "target/release", "target/package"],
                         capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert ran.returncode != 0
    assert "macOS" in ran.stderr and "Mac" in ran.stderr


# Paths: what the plists and scripts name is what the package installs


@pytest.mark.parametrize("name", ["com.postern.helper.plist", "com.postern.app.plist",
                                  "scripts/postinstall", "scripts/uninstall"])
def test_every_installed_path_a_file_names_is_one_the_package_installs(name):
    named = named_payload_paths((MACOS / name).read_text())
    assert named, f"no installed path found in {name}; the pattern no longer reads it"
    placed = staged()
    missing = {p for p in named if not installed_or_inside_installed(p, placed)}
    assert not missing, f"{name} names paths build-pkg.sh does not install: {missing}"


def test_every_staged_file_comes_from_a_binary_this_workspace_builds_or_a_file_here():
    placed = staged()
    workspace = workspace_binaries()
    assert binaries("crates/postern-cli") == {"postern"}
    assert binaries("crates/postern-credentials") == {"postern-credentials"}
    assert binaries("crates/postern-helper") == {"postern-helper"}
    assert "postern-app" in binaries("src-tauri")
    script = build_script()
    generated = dict((output, (program, args)) for program, args, output in re.findall(
        r'^"\$release_dir/(\S+)" (.+?) >"\$generated/(\S+)"$', script, re.M))
    cli_completions = (ROOT / "crates" / "postern-cli" / "src" / "completions.rs").read_text()
    shells = re.search(r"enum CompletionShell \{([^}]*)\}", cli_completions).group(1)
    completion_shells = {v.lower() for v in re.findall(r"\w+", shells)}
    for path, (mode, source) in placed.items():
        if source.startswith("$release_dir/bundle/macos/"):
            assert source.endswith(f"/{tauri_config()['productName']}.app"), source
        elif source.startswith("$release_dir/"):
            assert source.removeprefix("$release_dir/") in workspace, f"{path}: no workspace binary {source}"
        elif source.startswith("$script_dir/"):
            assert (MACOS / source.removeprefix("$script_dir/")).is_file(), source
        elif source.startswith("$generated/"):
            program, args = generated[source.removeprefix("$generated/")]
            assert program in binaries("crates/postern-cli"), source
            words = args.split()
            assert words == ["man"] or (words[0] == "completions" and words[1] in completion_shells), args
        else:
            raise AssertionError(f"{path} comes from {source}, which the test does not know")
    # Executables executable, the rest not.
    for path, (mode, source) in placed.items():
        if mode is not None:
            executable = path.startswith(("/usr/local/bin/", "/Library/PrivilegedHelperTools/"))
            assert mode == ("0755" if executable else "0644"), f"{path} staged with mode {mode}"


def test_the_helper_s_daemon_is_stopped_installed_and_started_under_its_label():
    helper = load_plist("com.postern.helper.plist")
    label, program = helper["Label"], helper["ProgramArguments"][0]
    placed = staged()
    daemon_plist = f"/Library/LaunchDaemons/{label}.plist"
    assert placed[daemon_plist] == ("0644", f"$script_dir/{label}.plist")
    assert placed[program][0] == "0755"
    pre = (SCRIPTS / "preinstall").read_text()
    post = (SCRIPTS / "postinstall").read_text()
    assert ["launchctl", "bootout", f"system/{label}"] in commands(pre, "launchctl")
    post_launchctl = commands(post, "launchctl")
    assert ["launchctl", "enable", f"system/{label}"] in post_launchctl
    assert ["launchctl", "bootstrap", "system", daemon_plist] in post_launchctl
    # Owned by root, writable by root only: the daemon runs it as root.
    assert ["chown", "root:wheel", program] in commands(post, "chown")
    assert ["chmod", "0755", program] in commands(post, "chmod")
    assert ["chmod", "0644", daemon_plist] in commands(post, "chmod")
    # The group the helper admits exists before it starts.
    group = option(helper["ProgramArguments"], "--group")
    creates = [w for w in commands(post, "dseditgroup") if option(w, "-o") == "create"]
    assert creates and all(w[-1] == group for w in creates)
    assert post.index("dseditgroup -o create") < post.index("launchctl bootstrap")
    # Its log folder exists before it starts; it and the policy's folder are root's alone.
    log_dir = posixpath.dirname(option(helper["ProgramArguments"], "--log-file"))
    assert post.index(f"mkdir -p {log_dir}") < post.index("launchctl bootstrap")
    for folder in (log_dir, posixpath.dirname(POLICY)):
        assert ["mkdir", "-p", folder] in commands(post, "mkdir")
        assert ["chown", "root:wheel", folder] in commands(post, "chown")
        assert ["chmod", "0755", folder] in commands(post, "chmod")
    assert POLICY not in post, "the package never writes the organization's policy"


def test_the_tools_package_runs_the_pre_and_postinstall_scripts_and_the_app_package_none():
    builds = {b["identifier"]: b for b in package_builds()}
    assert builds["dev.postern.app"]["scripts"] is None
    assert builds["dev.postern.app"]["location"] == "/Applications"
    assert builds["dev.postern.tools"]["location"] == "/"
    scripts_dir = builds["dev.postern.tools"]["scripts"]
    copied = {(w[-2], w[-1]) for w in commands(build_script(), "install")
              if posixpath.dirname(w[-1]) == scripts_dir}
    assert copied == {(f"$script_dir/scripts/{n}", f"{scripts_dir}/{n}") for n in ("preinstall", "postinstall")}


# The uninstall script


def test_uninstall_removes_everything_the_package_installs_and_the_helper_leaves():
    text = (SCRIPTS / "uninstall").read_text()
    removed = removals(text)
    targets = {target for _, target in removed}
    assert targets, "no rm found in uninstall; the parsing no longer reads it"
    for path in staged():
        assert path in targets, f"uninstall leaves {path}"
        if path.endswith(".app"):
            assert (True, path) in removed, f"{path} is a folder: rm -rf"
    # What the helper makes at run time: its socket's and state's folder, its log's folder.
    helper = load_plist("com.postern.helper.plist")["ProgramArguments"]
    for made in (posixpath.dirname(option(helper, "--socket")), option(helper, "--state-dir"),
                 posixpath.dirname(option(helper, "--log-file"))):
        assert any(made == t or made.startswith(t + "/") for recursive, t in removed if recursive), \
            f"uninstall leaves {made}"
    label = load_plist("com.postern.helper.plist")["Label"]
    assert ["launchctl", "bootout", f"system/{label}"] in commands(text, "launchctl")
    # Every person's LaunchAgent.
    agent = load_plist("com.postern.app.plist")["Label"]
    loop = re.search(rf"^for (\w+) in /Users/\*/Library/LaunchAgents/{re.escape(agent)}\.plist; do$", text, re.M)
    assert loop, "uninstall does not go through every user's LaunchAgents"
    assert f'${loop.group(1)}' in targets
    # Installer's receipts for the package ids the distribution installs.
    ids = re.search(r"^for package_id in ([^;]+); do$", text, re.M)
    assert ids and set(ids.group(1).split()) == {r.get("id") for r in distribution().findall("pkg-ref")}
    assert ["pkgutil", "--forget", "$package_id"] in commands(text, "pkgutil")


def test_uninstall_keeps_the_organization_s_policy_and_the_group():
    text = (SCRIPTS / "uninstall").read_text()
    ancestors = [POLICY] + [posixpath.dirname(POLICY)]
    while ancestors[-1] != "/":
        ancestors.append(posixpath.dirname(ancestors[-1]))
    removed = removals(text)
    assert removed, "no rm found in uninstall; the parsing no longer reads it"
    for recursive, target in removed:
        hit = [a for a in (ancestors if recursive else [POLICY]) if fnmatch.fnmatch(a, target)]
        assert not hit, f"`rm {'-r ' if recursive else ''}{target}` would remove the policy"
    # Its folder at most when empty (rmdir removes nothing else).
    assert "delete" not in " ".join(" ".join(w) for w in commands(text, "dseditgroup"))
    assert not commands(text, "dscl"), "the group stays: files may still be owned by it"
