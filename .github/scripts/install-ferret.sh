#!/usr/bin/env bash
# Installs the release binary of ferret for this runner into DIR: the GitHub Action's first
# step (action.yml). Usage: install-ferret.sh DIR
#
# Which release: the action's own ref, from GITHUB_ACTION_PATH (the runner unpacks an action in
# .../_actions/OWNER/REPO/REF), else ACTION_REF (`${{ github.action_ref }}`, given through the
# step's env because composite actions see it empty inside `run`). Only a version tag (v1.2.3,
# v1.2.3-rc.1) names a release; a branch, a commit or a tag such as `v1` does not, and ferret
# is then built from the action's source by the steps that follow.
# Where from: FERRET_RELEASE_BASE/TAG/ASSET, FERRET_RELEASE_BASE defaulting to GitHub's
# releases of the action's repository (tests point it at a loopback server).
# What: ferret-TARGET.tar.gz (ferret-TARGET.zip on Windows) for RUNNER_OS and RUNNER_ARCH, and
# the release's SHA256SUMS, which must list that archive with the SHA-256 it has. Nothing
# downloaded is unpacked, let alone run, before its checksum matches.
#
# Outcome: `ferret=PATH` on GITHUB_OUTPUT when installed; `ferret=` (empty), with a ::notice::
# saying why, when this ref has no release binary for this runner and the action must build:
# not a version tag, no such release (SHA256SUMS is not found), or no archive for this
# platform in it. Exit status 1, with an ::error::, when a release binary exists but cannot be
# trusted or fetched: a checksum mismatch, a failed download, an archive without ferret, a
# binary of another version. Building instead would hide a tampered release.
set -euo pipefail

dest=${1:?usage: install-ferret.sh DIR}
# Git Bash on Windows runners: C:\... becomes /c/..., which the later steps' bash runs.
if command -v cygpath >/dev/null; then dest=$(cygpath -u "$dest"); fi

notice() { echo "::notice title=ferret::$*"; }
fail() {
    echo "::error title=ferret::$*"
    exit 1
}
output() { echo "ferret=$1" >>"${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"; }
fall_back() {
    notice "$* Building ferret from the action's source instead (a few minutes on a first run;" \
        "cached after that). Pin the action to a release tag (vX.Y.Z) for the prebuilt binary."
    output ""
    exit 0
}

# The ref and repository: where the runner put this action says exactly; the step's env, when
# the path does not (a local action, another runner's layout), though inside another composite
# action that env may name the outer action.
ref=${ACTION_REF:-}
repository=${ACTION_REPOSITORY:-}
action_path=${GITHUB_ACTION_PATH:-}
action_path=${action_path//\\//}
if [[ $action_path =~ /_actions/([^/]+/[^/]+)/([^/]+)/?$ ]]; then
    repository=${BASH_REMATCH[1]}
    ref=${BASH_REMATCH[2]}
fi
if [[ ! $ref =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]]; then
    fall_back "The action's ref '${ref:-(none)}' is not a release tag."
fi
version=${ref#v}

case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
Linux/X64) target=x86_64-unknown-linux-musl ;;
Linux/ARM64) target=aarch64-unknown-linux-musl ;;
macOS/X64) target=x86_64-apple-darwin ;;
macOS/ARM64) target=aarch64-apple-darwin ;;
Windows/X64) target=x86_64-pc-windows-msvc ;;
*) fall_back "ferret $ref has no release binary for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}." ;;
esac
exe=ferret
asset=ferret-$target.tar.gz
if [[ $target == *windows* ]]; then
    exe=ferret.exe
    asset=ferret-$target.zip
fi

# GitHub serves release assets over HTTPS and redirects to its CDN, over HTTPS too; plain
# HTTP only when a base URL was given (a mirror, a test's loopback server).
if [[ -n ${FERRET_RELEASE_BASE:-} ]]; then
    base=${FERRET_RELEASE_BASE%/}
    protocols='=http,https'
else
    [[ -n $repository ]] || fall_back "The action's repository is unknown."
    base=${GITHUB_SERVER_URL:-https://github.com}/$repository/releases/download
    protocols='=https'
fi

command -v curl >/dev/null || fall_back "curl is not installed on this runner."
work=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/ferret-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Prints the HTTP status of GET URL (000: no answer), the body saved to FILE.
fetch() {
    curl --silent --show-error --location --retry 3 --connect-timeout 30 --max-time 600 \
        --proto "$protocols" --proto-redir "$protocols" \
        --output "$2" --write-out '%{http_code}' "$1" || true
}

sums_url=$base/$ref/SHA256SUMS
status=$(fetch "$sums_url" "$work/SHA256SUMS")
case $status in
200) ;;
404) fall_back "$ref has no release ($sums_url: 404)." ;;
*) fail "cannot download $sums_url (HTTP status $status); the release binary cannot be checked." ;;
esac

# The line `<sha256>  <name>` (or `<sha256> *<name>`, binary mode) for this archive.
expected=$(awk -v name="$asset" '$2 == name || $2 == "*" name { print tolower($1); exit }' \
    "$work/SHA256SUMS")
if [[ -z $expected ]]; then
    fall_back "ferret $ref has no $asset for ${RUNNER_OS}/${RUNNER_ARCH} (not in $sums_url)."
fi
[[ $expected =~ ^[0-9a-f]{64}$ ]] || fail "$sums_url gives '$expected' for $asset, not a SHA-256."

asset_url=$base/$ref/$asset
status=$(fetch "$asset_url" "$work/$asset")
[[ $status == 200 ]] || fail "cannot download $asset_url (HTTP status $status), listed in $sums_url."

if command -v sha256sum >/dev/null; then
    actual=$(sha256sum "$work/$asset" | cut -d' ' -f1)
else
    actual=$(shasum -a 256 "$work/$asset" | cut -d' ' -f1)
fi
actual=${actual#\\}
if [[ $actual != "$expected" ]]; then
    fail "checksum mismatch for $asset_url: its SHA-256 is $actual but $sums_url lists" \
        "$expected. Refusing to install it (a tampered or corrupted release asset)."
fi

# Verified: unpack it and check that it is ferret of this version.
mkdir "$work/unpacked"
if [[ $asset == *.zip ]] && command -v unzip >/dev/null; then
    unzip -q "$work/$asset" -d "$work/unpacked" || fail "cannot unpack $asset."
elif [[ $asset == *.zip ]]; then
    powershell -NoProfile -NonInteractive -Command "Expand-Archive -LiteralPath \
        '$(cygpath -w "$work/$asset")' -DestinationPath '$(cygpath -w "$work/unpacked")'" ||
        fail "cannot unpack $asset."
else
    tar -xzf "$work/$asset" -C "$work/unpacked" || fail "cannot unpack $asset."
fi
binary=$work/unpacked/ferret-$target/$exe
[[ -f $binary ]] || fail "$asset has no ferret-$target/$exe."
chmod +x "$binary"
said=$("$binary" --version 2>&1) || fail "the ferret in $asset does not run: $said"
[[ $said == "ferret $version" ]] || fail "$asset holds '$said', not ferret $version."
mkdir -p "$dest"
cp "$binary" "$dest/$exe"
echo "ferret: installed $said ($target) from $asset_url, SHA-256 $actual as listed in SHA256SUMS."
output "$dest/$exe"
