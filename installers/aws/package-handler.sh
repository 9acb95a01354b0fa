#!/usr/bin/env bash
# Builds the Lambda deployment package: the handler as `bootstrap` (Lambda's custom runtime
# entry point, run as `bootstrap lambda`) and the organization policy.
#   installers/aws/package-handler.sh POLICY.toml [OUT.zip]
set -euo pipefail
policy=${1:?usage: package-handler.sh POLICY.toml [OUT.zip]}
out=${2:-postern-handler.zip}
cd "$(dirname "$0")/../.."
target/debug/postern policy validate "$policy" >/dev/null 2>&1 || cargo run -q -p postern-cli -- policy validate "$policy"
cargo build --release -p postern-handler
work=$(mktemp -d)
printf '#!/bin/sh\nexec /var/task/postern-handler --policy /var/task/policy.toml lambda\n' > "$work/bootstrap"
chmod 755 "$work/bootstrap"
cp target/release/postern-handler "$work/postern-handler"
cp "$policy" "$work/policy.toml"
(cd "$work" && zip -q -r - .) > "$out"
rm -rf "$work"
echo "wrote $out"
