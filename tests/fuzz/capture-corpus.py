#!/usr/bin/python3
"""Captures real emulator output as fuzz seeds.

Runs the emulator self-test (tests/emulators/selftest.py: sign-ins with and
without MFA, STS and IAM calls with their errors, WS-Trust with its faults)
with its HTTP helper wrapped, and files every reply body by the parser that
would read it:

  OUT/adfs-page/  ADFS HTML pages
  OUT/saml/       decoded SAMLResponse XML, and the base64 as posted
  OUT/sts-xml/    STS and IAM replies (success and ErrorResponse)
  OUT/wstrust/    WS-Trust RSTR(C)s and SOAP faults

Usage: /usr/bin/python3 tests/fuzz/capture-corpus.py OUT
Copy what you want into tests/fuzz/corpus/<name>/ (or merge it with
tests/fuzz/run.sh --merge after adding it to a scratch corpus).
"""
import base64
import hashlib
import html
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "emulators"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import selftest  # noqa: E402

OUT = None
SEEN = set()


def save(kind, body):
    digest = hashlib.sha1(body).hexdigest()[:12]
    if (kind, digest) in SEEN:
        return
    SEEN.add((kind, digest))
    os.makedirs(os.path.join(OUT, kind), exist_ok=True)
    with open(os.path.join(OUT, kind, "emu-" + digest), "wb") as f:
        f.write(body)


def classify(url, body):
    if "/_emulator/" in url or not body:
        return
    text = body.decode("utf-8", "replace")
    if selftest.WSTRUST in url:
        save("wstrust", body)
    elif re.search(r"<(\w+:)?(AssumeRoleWithSAMLResponse|ErrorResponse|GetRoleResponse|"
                   r"GetCallerIdentityResponse)\b", text):
        save("sts-xml", body)
    elif "<html" in text.lower() or "<form" in text.lower():
        save("adfs-page", body)
        m = re.search(r'name="SAMLResponse"\s+value="([^"]*)"', text)
        if m:
            b64 = html.unescape(m.group(1))
            save("saml", b64.encode())
            save("saml", base64.b64decode(b64))


def main():
    global OUT
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    OUT = sys.argv[1]
    real_fetch = selftest.fetch

    def fetch(url, data=None, headers=None, op=None):
        st, hd, body = real_fetch(url, data, headers, op)
        classify(url, body)
        return st, hd, body

    selftest.fetch = fetch
    rc = selftest.main()
    for kind in sorted(os.listdir(OUT)):
        print("%s: %d files" % (kind, len(os.listdir(os.path.join(OUT, kind)))))
    return rc


if __name__ == "__main__":
    sys.exit(main())
