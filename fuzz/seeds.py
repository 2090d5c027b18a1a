#!/usr/bin/env python3
"""Writes the seed corpus under fuzz/corpus/<target>/ (run from anywhere; rewrites it whole).

No seed holds a key: keys are rule example templates (`sk-proj-{b64url:74}T3BlbkFJ{...}`),
which the targets expand at run time (fuzz/src/lib.rs, expand_keys).
"""

import random
import shutil
import tomllib
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"


def rule_files():
    return sorted((ROOT / "rules").glob("*.toml"))


def examples():
    """Every built-in rule's first two examples, as templates."""
    out = []
    for path in rule_files():
        for rule in tomllib.loads(path.read_text())["rule"]:
            out.extend(rule.get("examples", [])[:2])
    return out


def write(target, name, data):
    path = CORPUS / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def main():
    shutil.rmtree(CORPUS, ignore_errors=True)
    rng = random.Random(9)
    templates = examples()

    # matcher: a shape byte (how the input is cut), then text with keys in it.
    for i, template in enumerate(templates):
        text = f"line one\n{template}\n" if i % 2 else template
        write("matcher", f"example-{i:03}", bytes([i % 64]) + text.encode())
    write("matcher", "long-line", b"\x05" + (b"x" * 3000 + b" " + templates[0].encode()) * 2)
    write("matcher", "allow", b"\x01key = " + templates[0].encode() + b"  # ferret:allow\n")

    # decode: a mode byte, then bytes to decode, encode and escape.
    for i, text in enumerate(
        [b"c2stcHJvai0", b"k\x00e\x00y\x00", b"%2D\\u002d&#45;&#x2d;&hyphen;\\x2d\\/", b"AAAA====", b"\xff\xfe"]
    ):
        write("decode", f"seed-{i}", bytes([i * 37 % 256]) + text)

    # decode_nested: a mode byte (which encoding, escapes or not), then text with a key.
    for i, template in enumerate(t for t in templates if "T3BlbkFJ" in t):
        write("decode_nested", f"openai-{i:02}", bytes([i * 41 % 256]) + template.encode())

    # config: the README's example and variants.
    write(
        "config",
        "allowlist",
        '[allowlist]\npaths = ["tests/fixtures/**", "*.md"]\nregexes = [\'^sk-proj-TEST\']\n'
        'fingerprints = ["00"]\n',
    )
    write(
        "config",
        "operator",
        '[verify]\napi_base = "https://openai-proxy.internal"\n[verify.api_bases]\n'
        'anthropic = "https://a.internal"\n[revoke]\ndelete_service_accounts = true\n'
        'confirm_checks = 3\nconfirm_first_delay = "500ms"\n[rotation]\nenabled = true\n'
        'on_delivery_failure = "hold"\n[[hooks]]\ntype = "command"\nargv = ["notify"]\n'
        'events = ["revoked"]\ntimeout = "2m"\n[[hooks]]\ntype = "webhook"\n'
        'url = "https://hooks.internal/x"\nsecret_env = "HOOK_SECRET"\n[[hooks]]\n'
        'type = "github-actions-secret"\nsecret_name = "OPENAI_API_KEY"\n[[hooks]]\n'
        'type = "github-issue"\nlabels = ["security"]\n',
    )
    write("config", "bad-glob", '[allowlist]\npaths = ["a/{b"]\nregexes = ["("]\n')

    # rules: the built-in rule files themselves.
    for path in rule_files():
        write("rules", path.stem, path.read_bytes())

    # report: structured by `arbitrary` from any bytes.
    for i in range(8):
        write("report", f"random-{i}", bytes(rng.randrange(256) for _ in range(64 + 32 * i)))

    # git: a flags byte, then damages (op, file, offset, offset, length, bytes...).
    for i in range(8):
        write("git", f"random-{i}", bytes(rng.randrange(256) for _ in range(6 + 8 * i)))


if __name__ == "__main__":
    main()
