#!/bin/bash
# Builds Postern's installer package on a Mac, from a release build:
#
#   installers/macos/build-pkg.sh RELEASE_DIR OUT_DIR
#
# RELEASE_DIR holds `postern`, `postern-credentials`, `postern-helper` and `bundle/macos/Postern.app` (cargo's release
# build and the Tauri bundler), as universal binaries: the package installs on arm64 and x86_64.
# The result is OUT_DIR/Postern-VERSION.pkg, VERSION being the workspace's (Cargo.toml).
#
# Signing is optional, through the environment:
#   POSTERN_CODESIGN_IDENTITY   a "Developer ID Application" identity: signs the CLI and the
#                               helper (hardened runtime, timestamp); the app is signed by the
#                               Tauri bundler
#   POSTERN_INSTALLER_IDENTITY  a "Developer ID Installer" identity: signs the package
#
# Notarization is the release pipeline's next step, not done here (it needs Apple credentials):
#   xcrun notarytool submit OUT_DIR/Postern-VERSION.pkg --keychain-profile PROFILE --wait
#   xcrun stapler staple OUT_DIR/Postern-VERSION.pkg
set -euo pipefail

fail() {
  echo "build-pkg.sh: $*" >&2
  exit 1
}

if [ "$(uname -s)" != Darwin ]; then
  fail "pkgbuild and productbuild exist only on macOS; run this on a Mac (this is $(uname -s))"
fi
[ $# -eq 2 ] || fail "usage: $0 RELEASE_DIR OUT_DIR (e.g. target/universal-apple-darwin/release target/package)"

script_dir=$(cd "$(dirname "$0")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)
release_dir=$(cd "$1" && pwd) || fail "no such directory: $1"
mkdir -p "$2"
out_dir=$(cd "$2" && pwd)

# [workspace.package]'s version, the only line of the top-level Cargo.toml that starts so.
version=$(sed -n 's/^version = "\([^"]*\)"$/\1/p' "$repo_root/Cargo.toml")
# It goes into sed and Installer's version comparison: digits and dots only.
[[ "$version" =~ ^[0-9]+(\.[0-9]+)*$ ]] || fail "unexpected workspace version in Cargo.toml: '$version'"

app_bundle="$release_dir/bundle/macos/Postern.app"
for binary in "$release_dir/postern" "$release_dir/postern-credentials" "$release_dir/postern-helper"; do
  [ -x "$binary" ] || fail "missing $binary (cargo build --release)"
done
[ -d "$app_bundle" ] || fail "missing $app_bundle (the Tauri bundler's .app)"

# The LaunchAgent and the postinstall script start the app by this executable's path.
app_executable=$(/usr/libexec/PlistBuddy -c 'Print :CFBundleExecutable' "$app_bundle/Contents/Info.plist")
[ "$app_executable" = postern-app ] \
  || fail "Postern.app's executable is '$app_executable'; com.postern.app.plist starts Contents/MacOS/postern-app"
# A bundle left from an earlier build would ship under this version's number.
app_version=$(/usr/libexec/PlistBuddy -c 'Print :CFBundleShortVersionString' "$app_bundle/Contents/Info.plist")
[ "$app_version" = "$version" ] || fail "Postern.app is version $app_version, the workspace $version: rebuild the bundle"

# Distribution.xml says arm64 and x86_64: a binary missing one would install and not run.
for binary in "$release_dir/postern" "$release_dir/postern-credentials" "$release_dir/postern-helper" \
  "$app_bundle/Contents/MacOS/postern-app"; do
  archs=" $(lipo -archs "$binary") "
  [[ "$archs" == *" arm64 "* && "$archs" == *" x86_64 "* ]] \
    || fail "$binary is built for${archs}only; build for universal-apple-darwin (or lipo the two)"
done

work=$(mktemp -d -t postern-pkg)
trap 'rm -rf "$work"' EXIT
tools_root="$work/tools-root"
app_root="$work/app-root"
generated="$work/generated"
package_scripts="$work/scripts"
mkdir -p "$generated" "$app_root" "$package_scripts"

# Completions and the man page, from the CLI itself so they match its options.
"$release_dir/postern" completions zsh >"$generated/_postern"
"$release_dir/postern" completions bash >"$generated/postern.bash"
"$release_dir/postern" completions fish >"$generated/postern.fish"
"$release_dir/postern" man >"$generated/postern.1"

# The tools payload, installed at /. One line per file: tests/python/test_macos_package.py reads
# these lines to check the scripts and plists against what the package installs.
install -d -m 0755 "$tools_root/usr/local/bin" "$tools_root/Library/PrivilegedHelperTools" \
  "$tools_root/Library/LaunchDaemons" "$tools_root/usr/local/share/zsh/site-functions" \
  "$tools_root/usr/local/etc/bash_completion.d" "$tools_root/usr/local/share/fish/vendor_completions.d" \
  "$tools_root/usr/local/share/man/man1"
install -m 0755 "$release_dir/postern" "$tools_root/usr/local/bin/postern"
install -m 0755 "$release_dir/postern-credentials" "$tools_root/usr/local/bin/postern-credentials"
install -m 0755 "$release_dir/postern-helper" "$tools_root/Library/PrivilegedHelperTools/postern-helper"
install -m 0644 "$script_dir/com.postern.helper.plist" "$tools_root/Library/LaunchDaemons/com.postern.helper.plist"
install -m 0644 "$generated/_postern" "$tools_root/usr/local/share/zsh/site-functions/_postern"
install -m 0644 "$generated/postern.bash" "$tools_root/usr/local/etc/bash_completion.d/postern"
install -m 0644 "$generated/postern.fish" "$tools_root/usr/local/share/fish/vendor_completions.d/postern.fish"
install -m 0644 "$generated/postern.1" "$tools_root/usr/local/share/man/man1/postern.1"

# The app payload, installed in /Applications; ditto keeps the bundle's signature and links.
ditto "$release_dir/bundle/macos/Postern.app" "$app_root/Postern.app"

# Only these two run at install; pkgbuild archives every file in the folder it is given, and the
# uninstall script is IT's, not Installer's.
install -m 0755 "$script_dir/scripts/preinstall" "$package_scripts/preinstall"
install -m 0755 "$script_dir/scripts/postinstall" "$package_scripts/postinstall"

if [ -n "${POSTERN_CODESIGN_IDENTITY:-}" ]; then
  codesign --force --options runtime --timestamp --identifier dev.postern.cli \
    --sign "$POSTERN_CODESIGN_IDENTITY" "$tools_root/usr/local/bin/postern"
  codesign --force --options runtime --timestamp --identifier dev.postern.credentials \
    --sign "$POSTERN_CODESIGN_IDENTITY" "$tools_root/usr/local/bin/postern-credentials"
  codesign --force --options runtime --timestamp --identifier dev.postern.helper \
    --sign "$POSTERN_CODESIGN_IDENTITY" "$tools_root/Library/PrivilegedHelperTools/postern-helper"
else
  echo "build-pkg.sh: POSTERN_CODESIGN_IDENTITY unset: the CLI and the helper stay unsigned (notarization refuses them)" >&2
fi

# Not relocatable: without this, Installer "upgrades" a copy of Postern.app found anywhere on the
# disk (a build folder, a download) instead of installing into /Applications, where the
# LaunchAgent and the postinstall script look for it.
pkgbuild --analyze --root "$app_root" "$work/app-component.plist"
/usr/libexec/PlistBuddy -c 'Set :0:BundleIsRelocatable false' "$work/app-component.plist"

pkgbuild --root "$app_root" \
  --component-plist "$work/app-component.plist" \
  --identifier dev.postern.app \
  --version "$version" \
  --install-location /Applications \
  "$work/dev.postern.app.pkg"

# Recommended ownership: every file root:wheel, whoever built it.
pkgbuild --root "$tools_root" \
  --scripts "$package_scripts" \
  --ownership recommended \
  --identifier dev.postern.tools \
  --version "$version" \
  --install-location / \
  "$work/dev.postern.tools.pkg"

sed "s/@VERSION@/$version/g" "$script_dir/Distribution.xml" >"$work/Distribution.xml"

product="$out_dir/Postern-$version.pkg"
if [ -n "${POSTERN_INSTALLER_IDENTITY:-}" ]; then
  productbuild --distribution "$work/Distribution.xml" --package-path "$work" \
    --sign "$POSTERN_INSTALLER_IDENTITY" --timestamp "$product"
else
  productbuild --distribution "$work/Distribution.xml" --package-path "$work" "$product"
  echo "build-pkg.sh: POSTERN_INSTALLER_IDENTITY unset: the package is unsigned" >&2
fi
echo "$product"
