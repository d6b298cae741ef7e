#!/usr/bin/python3
"""Self-test of the ADFS and STS/IAM emulators.

Run with Debian's interpreter (boto3 comes from python3-boto3):
    /usr/bin/python3 tests/emulators/selftest.py [-v]

Part 1 uses only urllib/ssl: forms sign-in against the ADFS emulator,
AssumeRoleWithSAML against the STS emulator, error cases and control knobs.
Part 2 uses boto3 with the issued credentials (GetCallerIdentity, GetRole),
which proves the emulator's SigV4 check matches botocore's signer, and with an
administrator's long-term keys (UpdateRole, then GetRole and
AssumeRoleWithSAML see the new maximum).
Part 3: Windows Integrated Authentication with a real MIT KDC
(tests/integration/krb5.py) and python3-gssapi as the client, WS-Trust 1.3
usernamemixed (success, faults, a client-wrapped Assertion redeemed at STS),
and Azure MFA push (approve, deny).
Everything stays on 127.0.0.1.  Prints "N passed, M failed"; exit 1 on failure.
"""

import base64
import html.parser
import http.client
from http.cookiejar import CookieJar
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from email.utils import parsedate_to_datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.join(os.path.dirname(HERE), "integration"))
import emucommon as ec  # noqa: E402
import harness  # noqa: E402
import krb5  # noqa: E402

VERBOSE = "-v" in sys.argv
RP = "urn:amazon:webservices"
DEV = "arn:aws:iam::111122223333:role/ADFS-Dev"
DEV_IDP = "arn:aws:iam::111122223333:saml-provider/ADFS"
PROD = "arn:aws:iam::444455556666:role/ADFS-Prod"
PROD_IDP = "arn:aws:iam::444455556666:saml-provider/ADFS"
OTHER_IDP = "arn:aws:iam::111122223333:saml-provider/Other"
NS = {"samlp": ec.NS_SAMLP, "saml": ec.NS_SAML, "sts": "https://sts.amazonaws.com/doc/2011-06-15/"}
IE11 = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"
EDGE = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/70.0.3538.102 Safari/537.36 Edge/18.19582")
CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0 Safari/537.36")
WSTRUST = "/adfs/services/trust/13/usernamemixed"


class Results:
    passed = failed = 0

    def check(self, name, cond, detail=""):
        if cond:
            self.passed += 1
            if VERBOSE:
                print("ok   %s" % name)
        else:
            self.failed += 1
            print("FAIL %s %s" % (name, detail))
        return cond


R = Results()


# --- processes ---------------------------------------------------------------

class Emulator:
    """An emulator started by the integration harness's launcher."""

    def __init__(self, script, world, certdir):
        try:
            self.proc, port = harness.launch_emulator(
                script, world, certdir, args=["--verbose"] if VERBOSE else [])
        except RuntimeError as e:
            raise SystemExit(str(e))
        self.base = "https://127.0.0.1:%s" % port

    def control(self, name, obj=None, source=None):
        """A control request (GET without obj, else POST obj as JSON), from
        the local address source if given (e.g. one in tls_exempt)."""
        st, _, body = harness.fetch(
            self.base + "/_emulator/" + name, "GET" if obj is None else "POST",
            {"Content-Type": "application/json"},
            None if obj is None else json.dumps(obj), context=CTX, source=source)
        return st, json.loads(body)

    def config(self, **knobs):
        st, cur = self.control("config", knobs)
        assert st == 200, cur
        return cur

    def stats(self):
        return self.control("stats")[1]

    def stop(self):
        rc = harness.stop_process(self.proc, 10)
        self.proc.stdout.close()
        return rc


# --- HTTP helpers --------------------------------------------------------------

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


CTX = None          # ssl.SSLContext trusting the test CA (set in main)


def client_error(fn, **kw):
    """(code, message, HTTP status) of the botocore ClientError fn(**kw)
    raises, or None when it succeeds."""
    from botocore.exceptions import ClientError
    try:
        fn(**kw)
    except ClientError as e:
        return (e.response["Error"]["Code"], e.response["Error"]["Message"],
                e.response["ResponseMetadata"]["HTTPStatusCode"])
    return None


def opener(jar=None, follow=True):
    handlers = [urllib.request.HTTPSHandler(context=CTX)]
    if jar is not None:
        handlers.append(urllib.request.HTTPCookieProcessor(jar))
    if not follow:
        handlers.append(NoRedirect())
    return urllib.request.build_opener(*handlers)


def fetch(url, data=None, headers=None, op=None):
    """-> (status, headers, body bytes); HTTP errors are returned, not raised."""
    if isinstance(data, dict):
        data = urllib.parse.urlencode(data).encode()
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with (op or opener()).open(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class Forms(html.parser.HTMLParser):
    """Collect forms (attrs + inputs) and the text of #errorText (and of
    #validEntropyNumber, #instructions: self.texts), as a browser would."""
    WATCH = ("errorText", "validEntropyNumber", "instructions")

    def __init__(self, text):
        super().__init__()
        self.forms, self._form, self.error_text, self._in = [], None, None, None
        self.texts = {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"attrs": a, "inputs": []}
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None:
            self._form["inputs"].append(a)
        if a.get("id") in self.WATCH:
            self._in = (a["id"], tag)
            self.texts[a["id"]] = ""
            if a["id"] == "errorText":
                self.error_text = ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        if self._in and tag == self._in[1]:
            self._in = None

    def handle_data(self, data):
        if self._in:
            self.texts[self._in[0]] += data
            if self._in[0] == "errorText":
                self.error_text += data

    def form(self, key, value):
        return next((f for f in self.forms if f["attrs"].get(key) == value), None)


def raw_status(base, head):
    """Send raw request bytes over TLS; return the reply's status code."""
    host, port = urllib.parse.urlsplit(base).netloc.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        with CTX.wrap_socket(s, server_hostname=host) as t:
            t.sendall(head.encode())
            line = t.recv(1024).split(b"\r\n", 1)[0]
    return int(line.split()[1])


def sts_call(base, **params):
    """Unsigned query-protocol POST -> (status, headers, ElementTree root)."""
    st, hd, body = fetch(base + "/", params)
    return st, hd, ET.fromstring(body)


def err_of(root):
    ns = {"e": root.tag[1:].split("}")[0]}
    return (root.findtext("e:Error/e:Code", None, ns), root.findtext("e:Error/e:Message", None, ns),
            root.findtext("e:Error/e:Type", None, ns))


def approx(a, b, tol=5):
    return abs(a - b) <= tol


# --- part 1: ADFS + STS over urllib ---------------------------------------------

def adfs_part(adfs):
    url = adfs.base + "/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=" + RP
    jar = CookieJar()

    st, hd, body = fetch(url, op=opener(jar))
    page = body.decode()
    f = Forms(page)
    login = f.form("id", "loginForm")
    R.check("login page 200 text/html", st == 200 and hd["Content-Type"] == "text/html; charset=utf-8")
    R.check("login page Cache-Control no-store, Date", hd["Cache-Control"] == "no-store" and hd["Date"])
    R.check("login form present", login is not None and login["attrs"].get("method") == "post")
    action = login["attrs"]["action"]
    R.check("form action relative, &amp; encoded",
            action.startswith("/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn:amazon:webservices&client-request-id=")
            and "loginToRp=urn:amazon:webservices&amp;client-request-id=" in page, action)
    types = {i.get("name"): i.get("type") for i in login["inputs"]}
    R.check("inputs UserName/Password/AuthMethod/Kmsi",
            types.get("UserName") == "email" and types.get("Password") == "password"
            and types.get("Kmsi") == "checkbox"
            and any(i.get("name") == "AuthMethod" and i.get("value") == "FormsAuthentication"
                    for i in login["inputs"]), types)
    R.check("errorText empty on first page", f.error_text == "", f.error_text)
    post_url = urllib.parse.urljoin(url, action)

    st, _, body = fetch(adfs.base + "/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn:nope")
    R.check("unknown RP -> error page", st == 200 and b"An error occurred" in body
            and b"MSIS7007" in body and not Forms(body.decode()).forms)

    st, _, body = fetch(post_url, {"UserName": "EXAMPLE\\alice", "Password": "wrong",
                                  "AuthMethod": "FormsAuthentication"}, op=opener(jar))
    f = Forms(body.decode())
    R.check("wrong password -> login page with errorText",
            st == 200 and f.form("id", "loginForm") is not None and f.error_text ==
            "Incorrect user ID or password. Type the correct user ID and password, and try again.",
            f.error_text)
    R.check("wrong password keeps UserName", any(i.get("value") == "EXAMPLE\\alice"
                                                 for i in f.form("id", "loginForm")["inputs"]))
    st, _, body = fetch(post_url, {"UserName": "EXAMPLE\\alice", "AuthMethod": "FormsAuthentication"})
    R.check("missing password -> error text", Forms(body.decode()).error_text == "Enter your password.")
    st, _, body = fetch(post_url, {"Password": "x"})
    R.check("missing user -> error text",
            Forms(body.decode()).error_text.startswith("Enter your user ID in the format"))
    s = adfs.stats()
    R.check("stats password_failures=1, failures_by_user",
            s["password_failures"] == 1 and s["failures_by_user"] == {"example\\alice": 1}, s)

    # Good credentials: 302 + MSIS cookies (inspect without following).
    creds = {"UserName": "EXAMPLE\\alice", "Password": "Correct-Horse-1",
             "AuthMethod": "FormsAuthentication"}
    st, hd, _ = fetch(post_url, creds, op=opener(jar, follow=False))
    cookies = hd.get_all("Set-Cookie") or []
    R.check("good password -> 302 to sign-on URL", st == 302 and
            hd["Location"].startswith("/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp="), hd["Location"])
    R.check("MSISAuth cookie attributes", any(re.fullmatch(
        r"MSISAuth=[A-Za-z0-9+/=]+; path=/adfs; secure; HttpOnly", c) for c in cookies), cookies)
    R.check("MSISAuthenticated + MSISLoopDetectionCookie",
            any(c.startswith("MSISAuthenticated=") for c in cookies)
            and any(c.startswith("MSISLoopDetectionCookie=") for c in cookies))

    # Full flow with a cookie jar and redirects (like libcurl would do).
    jar = CookieJar()
    st, _, body = fetch(post_url, creds, op=opener(jar))
    f = Forms(body.decode())
    hidden = f.form("name", "hiddenform")
    R.check("auto-post page with SAMLResponse", st == 200 and hidden is not None
            and hidden["attrs"]["action"] == "https://signin.aws.amazon.com:443/saml"
            and hidden["inputs"][0]["name"] == "SAMLResponse")
    saml_b64 = hidden["inputs"][0]["value"]
    check_saml(saml_b64, adfs)

    st, _, body = fetch(url, op=opener(jar))
    hidden = Forms(body.decode()).form("name", "hiddenform")
    R.check("cookie round gives a new assertion", hidden is not None
            and hidden["inputs"][0]["value"] != saml_b64)
    s = adfs.stats()
    R.check("stats cookie_rounds=1 assertions_issued=2 password_posts=5",
            s["cookie_rounds"] == 1 and s["assertions_issued"] == 2 and s["password_posts"] == 5, s)
    # GET /_emulator/issued: what a client must keep secret, as issued.
    _, issued = adfs.control("issued")
    jar_auth = [c.value for c in jar if c.name == "MSISAuth"]
    R.check("issued: the jar's MSISAuth among the cookies", jar_auth and
            jar_auth[0] in issued["cookies"].get("MSISAuth", []), sorted(issued["cookies"]))
    R.check("issued: MSISAuthenticated too", len(issued["cookies"].get("MSISAuthenticated", []))
            == len(issued["cookies"].get("MSISAuth", [])) >= 2, issued["cookies"])
    R.check("issued: both SAMLResponses, and their Assertions",
            issued["saml_responses"][-2:] == [saml_b64, hidden["inputs"][0]["value"]]
            and issued["assertions"][-2] in base64.b64decode(saml_b64).decode(),
            len(issued["assertions"]))
    return jar, url, saml_b64


def check_saml(saml_b64, adfs):
    raw = base64.b64decode(saml_b64)
    root = ET.fromstring(raw)
    a = root.find("saml:Assertion", NS)
    now = time.time()
    R.check("Response Destination/Status", root.get("Destination") == ec.AWS_SAML_RECIPIENT
            and root.find("samlp:Status/samlp:StatusCode", NS).get("Value").endswith(":Success"))
    R.check("Issuer", a.findtext("saml:Issuer", None, NS) == "http://adfs.example.com/adfs/services/trust")
    nid = a.find("saml:Subject/saml:NameID", NS)
    R.check("NameID persistent", nid.get("Format").endswith(":persistent") and nid.text == "EXAMPLE\\alice")
    scd = a.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS)
    R.check("SubjectConfirmationData now+5min", approx(ec.parse_iso(scd.get("NotOnOrAfter")), now + 300)
            and scd.get("Recipient") == ec.AWS_SAML_RECIPIENT)
    cond = a.find("saml:Conditions", NS)
    R.check("Conditions now+1h, audience", approx(ec.parse_iso(cond.get("NotOnOrAfter")), now + 3600)
            and cond.findtext("saml:AudienceRestriction/saml:Audience", None, NS) == RP)
    attrs = {at.get("Name"): [v.text for v in at] for at in a.iterfind("saml:AttributeStatement/saml:Attribute", NS)}
    R.check("Role attribute, both orders", attrs.get(ec.ATTR_ROLE) == [
        DEV + "," + DEV_IDP, PROD_IDP + "," + PROD], attrs.get(ec.ATTR_ROLE))
    R.check("RoleSessionName + SessionDuration", attrs.get(ec.ATTR_SESSION_NAME) == ["alice@example.com"]
            and attrs.get(ec.ATTR_SESSION_DURATION) == ["28800"])
    authn = a.find("saml:AuthnStatement", NS)
    R.check("AuthnStatement", authn.get("SessionIndex") and authn.get("AuthnInstant"))
    key = adfs_world["saml"]["hmac_key"]
    R.check("emulator signature verifies", ec.saml_verify(raw, key) is None)
    R.check("tampering breaks the signature",
            ec.saml_verify(raw.replace(b"alice@example.com", b"mallory@example.co"), key) is not None)


def sts_part(sts, adfs, jar, url, saml_b64):
    now = time.time()
    st, hd, root = sts_call(sts.base, Action="AssumeRoleWithSAML", Version="2011-06-15",
                            RoleArn=DEV, PrincipalArn=DEV_IDP, SAMLAssertion=saml_b64,
                            DurationSeconds="43200")
    r = root.find("sts:AssumeRoleWithSAMLResult", NS)
    R.check("AssumeRoleWithSAML 200 text/xml", st == 200 and hd["Content-Type"] == "text/xml"
            and hd["x-amzn-RequestId"] and r is not None, ET.tostring(root)[:300])
    c = r.find("sts:Credentials", NS)
    dev = {k: c.findtext("sts:" + k, None, NS) for k in
           ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")}
    R.check("AccessKeyId/Secret format", re.fullmatch(r"ASIA[A-Z0-9]{16}", dev["AccessKeyId"])
            and len(dev["SecretAccessKey"]) == 40 and len(dev["SessionToken"]) > 100, dev["AccessKeyId"])
    R.check("Expiration format, capped by SessionDuration (8h)",
            re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", dev["Expiration"])
            and approx(ec.parse_iso(dev["Expiration"]), now + 28800), dev["Expiration"])
    R.check("AssumedRoleUser", r.findtext("sts:AssumedRoleUser/sts:Arn", None, NS) ==
            "arn:aws:sts::111122223333:assumed-role/ADFS-Dev/alice@example.com"
            and re.fullmatch(r"AROA[A-Z0-9]{17}:alice@example.com",
                             r.findtext("sts:AssumedRoleUser/sts:AssumedRoleId", "", NS)))
    R.check("Subject/SubjectType/Audience/Issuer/NameQualifier",
            r.findtext("sts:Subject", None, NS) == "EXAMPLE\\alice"
            and r.findtext("sts:SubjectType", None, NS) == "persistent"
            and r.findtext("sts:Audience", None, NS) == ec.AWS_SAML_RECIPIENT
            and r.findtext("sts:Issuer", None, NS).startswith("http://adfs.example.com/")
            and r.findtext("sts:NameQualifier", None, NS))
    R.check("RequestId in body", root.findtext("sts:ResponseMetadata/sts:RequestId", None, NS)
            == hd["x-amzn-RequestId"])

    st, _, root = sts_call(sts.base, Action="AssumeRoleWithSAML", Version="2011-06-15",
                           RoleArn=PROD, PrincipalArn=PROD_IDP, SAMLAssertion=saml_b64)
    c = root.find("sts:AssumeRoleWithSAMLResult/sts:Credentials", NS)
    prod = {k: c.findtext("sts:" + k, None, NS) for k in
            ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")} if c is not None else {}
    R.check("Prod default duration 3600", st == 200 and approx(ec.parse_iso(prod["Expiration"]), now + 3600))

    def expect(name, status, code, message, **params):
        base = {"Action": "AssumeRoleWithSAML", "Version": "2011-06-15", "RoleArn": DEV,
                "PrincipalArn": DEV_IDP, "SAMLAssertion": saml_b64}
        base.update(params)
        base = {k: v for k, v in base.items() if v is not None}
        st, _, root = sts_call(sts.base, **base)
        got = err_of(root)
        ok = st == status and got[0] == code and (message is None or got[1] == message)
        R.check(name, ok, "%s %s" % (st, got))

    expect("DurationSeconds > MaxSessionDuration", 400, "ValidationError",
           "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
           RoleArn=PROD, PrincipalArn=PROD_IDP, DurationSeconds="7200")
    expect("DurationSeconds > 43200", 400, "ValidationError",
           "1 validation error detected: Value '50000' at 'durationSeconds' failed to satisfy "
           "constraint: Member must have value less than or equal to 43200", DurationSeconds="50000")
    expect("DurationSeconds < 900", 400, "ValidationError",
           "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy "
           "constraint: Member must have value greater than or equal to 900", DurationSeconds="899")
    expect("missing RoleArn", 400, "ValidationError",
           "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: "
           "Member must not be null", RoleArn=None)
    expect("role/provider pair not offered", 403, "AccessDenied",
           "Not authorized to perform sts:AssumeRoleWithSAML", PrincipalArn=PROD_IDP)
    expect("issuer mismatch", 400, "InvalidIdentityToken",
           "Issuer not present in specified provider", PrincipalArn=OTHER_IDP)
    raw = base64.b64decode(saml_b64)
    tampered = base64.b64encode(raw.replace(b">alice@example.com<", b">mallory@example<")).decode()
    expect("tampered assertion", 400, "InvalidIdentityToken", "Response signature invalid",
           SAMLAssertion=tampered)
    expect("bad base64", 400, "InvalidIdentityToken", None, SAMLAssertion="!!!not base64!!!")
    if "+" in saml_b64:
        expect("'+' not URL-encoded", 400, "InvalidIdentityToken", None,
               SAMLAssertion=saml_b64.replace("+", " "))
    expect("unknown Version", 400, "InvalidAction",
           "Could not find operation AssumeRoleWithSAML for version 2010-05-08", Version="2010-05-08")

    sts.config(time_offset=301)
    expect("assertion older than 5 min", 400, "ExpiredTokenException",
           "Token must be redeemed within 5 minutes of issuance")
    sts.config(time_offset=0)

    # SubjectConfirmationData NotOnOrAfter passed (ADFS issues 60 s ones).
    adfs.config(confirmation_lifetime=60)
    _, _, body = fetch(url, op=opener(jar))
    short = Forms(body.decode()).form("name", "hiddenform")["inputs"][0]["value"]
    adfs.config(confirmation_lifetime=None)
    sts.config(time_offset=120)
    expect("SubjectConfirmationData expired", 400, "ExpiredTokenException", "Response has expired",
           SAMLAssertion=short)
    sts.config(time_offset=0)

    s = sts.stats()
    R.check("stats assume_calls/assume_ok/assume_errors", s["assume_ok"] == 2
            and s["assume_calls"] == 2 + sum(s["assume_errors"].values())
            and s["assume_errors"].get("ValidationError") == 4
            and s["assume_errors"].get("InvalidIdentityToken", 0) >= 4, s)
    return dev, prod, saml_b64


def control_part(sts, adfs, jar, url):
    sts.config(fail_status=503, fail_count=1)
    st, _, root = sts_call(sts.base, Action="GetCallerIdentity", Version="2011-06-15")
    R.check("fail_status 503 once", st == 503 and err_of(root) == (
        "ServiceUnavailable", "Service is unable to handle request.", "Receiver"), err_of(root))
    st, _, root = sts_call(sts.base, Action="GetCallerIdentity", Version="2011-06-15")
    R.check("then back to normal (unsigned -> MissingAuthenticationToken)",
            st == 403 and err_of(root)[0] == "MissingAuthenticationToken", err_of(root))
    sts.config(throttle_count=1)
    st, _, root = sts_call(sts.base, Action="GetCallerIdentity", Version="2011-06-15")
    R.check("throttle_count -> Throttling", st == 400 and err_of(root)[:2] == ("Throttling", "Rate exceeded"))
    sts.config(delay=0.4, delay_count=1)
    t0 = time.monotonic()
    fetch(sts.base + "/", {"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    t1 = time.monotonic()
    fetch(sts.base + "/", {"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    t2 = time.monotonic()
    R.check("delay knob (once)", t1 - t0 >= 0.4 and t2 - t1 < 0.4, (t1 - t0, t2 - t1))
    sts.config(delay=0)
    sts.config(time_offset=3600)
    _, hd, _ = fetch(sts.base + "/", {"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    R.check("Date header follows time_offset",
            approx(parsedate_to_datetime(hd["Date"]).timestamp(), time.time() + 3600), hd["Date"])
    sts.config(time_offset=0)
    st, res = sts.control("config", {"no_such_knob": 1})
    R.check("unknown knob rejected", st == 400 and "unknown knob" in res["error"])
    sts.config(truncate_count=1)
    st, _, body = fetch(sts.base + "/", {"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    R.check("truncate_count -> truncated XML", st == 403 and body.startswith(b"<ErrorResponse")
            and not body.rstrip().endswith(b"</ErrorResponse>"))
    R.check("body > 1 MiB -> 413", raw_status(sts.base, "POST / HTTP/1.1\r\nHost: x\r\n"
                                               "Content-Length: %d\r\n\r\n" % (ec.MAX_BODY + 1)) == 413)

    # ADFS: SSO expiry, disabled sign-on page, loop detection, MFA.
    adfs.config(time_offset=28801)
    _, _, body = fetch(url, op=opener(jar))
    R.check("SSO cookie expires after sso_lifetime", Forms(body.decode()).form("id", "loginForm") is not None
            and adfs.stats()["sso_expired"] == 1)
    adfs.config(time_offset=0, idp_initiated_signon=False)
    st, _, body = fetch(url)
    R.check("IdP-initiated sign-on disabled -> MSIS7012 page", st == 200 and b"MSIS7012" in body
            and b"The resource you are trying to access is not available." in body)
    adfs.config(idp_initiated_signon=None)

    jar = CookieJar()
    st, _, body = fetch(url, op=opener(jar))
    action = urllib.parse.urljoin(url, Forms(body.decode()).form("id", "loginForm")["attrs"]["action"])
    fetch(action, {"UserName": "alice@example.com", "Password": "Correct-Horse-1"}, op=opener(jar))
    pages = [fetch(url, op=opener(jar))[2] for _ in range(5)]
    R.check("loop detection: 6th token in 20 s refused", all(b"SAMLResponse" in p for p in pages[:4])
            and b"MSIS7042" in pages[4] and adfs.stats()["loop_detections"] == 1)

    jar = CookieJar()
    st, _, body = fetch(action, {"UserName": "EXAMPLE\\bob", "Password": "Battery-Staple-2",
                                "AuthMethod": "FormsAuthentication"}, op=opener(jar))
    f = Forms(body.decode())
    mfa = f.form("id", "loginForm")
    inputs = {i.get("name"): i.get("value") for i in mfa["inputs"]} if mfa else {}
    R.check("MFA page after password", "VerificationCode" in inputs and inputs.get("Context")
            and inputs.get("AuthMethod") == "AzureMfaAuthentication", inputs)
    st, _, body = fetch(action, {"AuthMethod": inputs.get("AuthMethod"), "Context": inputs.get("Context"),
                                "VerificationCode": "000000"}, op=opener(jar))
    R.check("wrong MFA code -> errorText", "incorrect" in (Forms(body.decode()).error_text or ""))
    st, _, body = fetch(action, {"AuthMethod": inputs.get("AuthMethod"), "Context": inputs.get("Context"),
                                "VerificationCode": "123456"}, op=opener(jar))
    hidden = Forms(body.decode()).form("name", "hiddenform")
    raw = base64.b64decode(hidden["inputs"][0]["value"]) if hidden else b""
    R.check("right MFA code -> assertion", b"saml-provider/ADFS, arn:aws:iam::111122223333:role/ADFS-Dev" in raw)


# --- part 3: WIA, WS-Trust, MFA push ---------------------------------------------

def reset_part(sts, tmp):
    """reset_count, tls_reset_count, tls_cert, tls_exempt and disconnect:
    the faults a client sees as a reset connection or a certificate from
    another CA, and the control requests that must still get through."""
    def call():
        try:
            fetch(sts.base + "/", {"Action": "GetCallerIdentity", "Version": "2011-06-15"})
        except (urllib.error.URLError, OSError) as e:
            return getattr(e, "reason", e)
        return None

    sts.config(reset_count=1, fault_ops=["GetCallerIdentity"])
    err = call()
    R.check("reset_count -> connection reset", isinstance(err, ConnectionResetError), repr(err))
    R.check("reset_count: then back to normal", call() is None)
    sts.config(tls_reset_count=-1, fault_ops=[], tls_exempt=["127.0.0.2"])
    err = call()
    R.check("tls_reset_count -> reset during the handshake",
            isinstance(err, (ConnectionResetError, ssl.SSLError)), repr(err))
    st, _ = sts.control("config", {"tls_reset_count": 0}, source="127.0.0.2")
    R.check("tls_exempt: a control request from 127.0.0.2 gets through", st == 200, st)
    R.check("tls_reset_count 0: back to normal", call() is None)
    other = os.path.join(tmp, "other")
    subprocess.run(["sh", os.path.join(HERE, "mkcerts.sh"), other], check=True)
    pem = os.path.join(other, "server-full.pem")
    sts.config(tls_cert=pem)
    err = call()
    R.check("tls_cert from another CA -> verification fails",
            isinstance(err, ssl.SSLCertVerificationError), repr(err))
    st, _ = sts.control("config", {"tls_cert": None, "tls_exempt": []}, source="127.0.0.2")
    R.check("tls_cert null: the normal certificate again", st == 200 and call() is None, st)
    s = sts.stats()["faults_injected"]
    R.check("faults_injected counts reset, tls_reset, tls_cert",
            (s.get("reset"), s.get("tls_reset"), s.get("tls_cert")) == (1, 1, 1), s)
    shutil.rmtree(other)

    # disconnect: an idle keep-alive connection is closed by the emulator.
    host, port = urllib.parse.urlsplit(sts.base).netloc.rsplit(":", 1)
    conn = http.client.HTTPSConnection(host, int(port), context=CTX, timeout=10)
    conn.request("GET", "/_emulator/stats")
    conn.getresponse().read()
    st, res = sts.control("disconnect", {})
    try:
        conn.request("GET", "/_emulator/stats")
        conn.getresponse().read()
        again = None
    except (http.client.HTTPException, OSError) as e:
        again = e
    conn.close()
    R.check("disconnect closes idle keep-alive connections",
            st == 200 and res["closed"] >= 1 and again is not None, (st, res, again))


def negotiate_token(ccache=None):
    """A fresh SPNEGO/Kerberos token for HTTP@localhost (python3-gssapi)."""
    import gssapi
    creds = gssapi.Credentials(usage="initiate", store={"ccache": ccache}) if ccache else None
    c = gssapi.SecurityContext(name=gssapi.Name("HTTP@localhost", gssapi.NameType.hostbased_service),
                               usage="initiate", creds=creds, mech=gssapi.Mechanism.from_sasl_name("SPNEGO"),
                               flags=gssapi.RequirementFlag.mutual_authentication)
    return c, base64.b64encode(c.step()).decode()


def wia_part(adfs, sts, kdc):
    adfs.control("reset", {})
    url = adfs.base + "/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=" + RP + "&client-request-id=abc-1"
    nofollow = opener(follow=False)
    st, hd, _ = fetch(url, headers={"User-Agent": IE11}, op=nofollow)
    R.check("WIA: IE11 without cookie -> 302 to /adfs/ls/wia", st == 302 and hd["Location"] ==
            "/adfs/ls/wia?loginToRp=urn:amazon:webservices&client-request-id=abc-1", hd["Location"])
    st, hd, _ = fetch(url, headers={"User-Agent": EDGE}, op=nofollow)
    R.check("WIA: legacy Edge matches the =~ regex entry", st == 302 and "/adfs/ls/wia?" in hd["Location"])
    st, _, body = fetch(url, headers={"User-Agent": CHROME}, op=nofollow)
    R.check("WIA: other user agents get the forms page", st == 200
            and Forms(body.decode()).form("id", "loginForm") is not None)
    wia = adfs.base + "/adfs/ls/wia?loginToRp=" + RP + "&client-request-id=abc-1"
    st, hd, body = fetch(wia, headers={"User-Agent": IE11}, op=nofollow)
    R.check("WIA: no Authorization -> 401 Negotiate + HTML", st == 401
            and hd.get_all("WWW-Authenticate") == ["Negotiate"] and b"HTTP Error 401" in body
            and hd["Content-Type"].startswith("text/html"), (st, hd.get_all("WWW-Authenticate")))
    st, hd, _ = fetch(wia, headers={"User-Agent": IE11, "Authorization": "Negotiate YWJjZGVm"},
                      op=nofollow)
    R.check("WIA: garbage token -> 401, no cookie", st == 401 and not hd.get_all("Set-Cookie"))

    ctx, tok = negotiate_token()
    st, hd, _ = fetch(wia, headers={"User-Agent": IE11, "Authorization": "Negotiate " + tok},
                      op=nofollow)
    cookies = hd.get_all("Set-Cookie") or []
    R.check("WIA: valid ticket -> 302 back to sign-on + MSISAuth", st == 302
            and hd["Location"] == "/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn:amazon:webservices"
            "&client-request-id=abc-1" and any(c.startswith("MSISAuth=") for c in cookies), (st, hd))
    mutual = (hd.get("WWW-Authenticate") or "").split(" ", 1)
    ok = False
    if len(mutual) == 2 and mutual[0] == "Negotiate":
        ctx.step(base64.b64decode(mutual[1]))
        ok = ctx.complete
    R.check("WIA: mutual-auth token completes the client context", ok, hd.get("WWW-Authenticate"))
    st, hd, _ = fetch(wia, headers={"User-Agent": IE11, "Authorization": "Negotiate " + tok},
                      op=nofollow)
    R.check("WIA: replayed token -> 401", st == 401 and not hd.get_all("Set-Cookie"))

    # The cookies work like forms cookies: a cookie round gives an assertion.
    auth = [c.split(";", 1)[0] for c in cookies]
    st, _, body = fetch(url, headers={"User-Agent": IE11, "Cookie": "; ".join(auth)}, op=nofollow)
    hidden = Forms(body.decode()).form("name", "hiddenform")
    saml_b64 = hidden["inputs"][0]["value"] if hidden else ""
    raw = base64.b64decode(saml_b64)
    R.check("WIA: SSO cookie -> SAMLResponse, AuthnContext windows", st == 200 and
            b">urn:federation:authentication:windows<" in raw and b">EXAMPLE\\alice<" in raw)
    st, _, root = sts_call(sts.base, Action="AssumeRoleWithSAML", Version="2011-06-15",
                           RoleArn=DEV, PrincipalArn=DEV_IDP, SAMLAssertion=saml_b64)
    R.check("WIA: STS accepts the assertion", st == 200, ET.tostring(root)[:200])

    # A principal with no world user behind it.
    other = "FILE:" + os.path.join(kdc.dir, "ccache.bob")
    kdc.add_principal("bob@" + kdc.realm, "Bob-Kerberos-2")
    kdc.kinit("bob@" + kdc.realm, "Bob-Kerberos-2", ccache=other)
    _, tok = negotiate_token(other)
    st, hd, _ = fetch(wia, headers={"User-Agent": IE11, "Authorization": "Negotiate " + tok},
                      op=nofollow)
    R.check("WIA: unmapped principal -> 401, no cookie", st == 401 and not hd.get_all("Set-Cookie"))
    s = adfs.stats()
    R.check("WIA counters", s["wia_redirects"] == 2 and s["wia_challenges"] == 1
            and s["wia_successes"] == 1 and s["wia_failures"] == 3 and s["password_posts"] == 0, s)
    log = adfs.control("requests")[1]
    R.check("WIA: request log names the principal", any(
        x.get("principal") == "alice@" + kdc.realm and x.get("result") == "ok" for x in log))

    adfs.config(wia_enabled=False)
    st, _, body = fetch(url, headers={"User-Agent": IE11}, op=nofollow)
    st2, _, _ = fetch(wia, headers={"User-Agent": IE11}, op=nofollow)
    R.check("WIA off (knob): IE11 gets the forms page, /adfs/ls/wia 404",
            st == 200 and b'id="loginForm"' in body and st2 == 404)
    adfs.config(wia_enabled=None)


def rst(to, user, password, rp=RP, action="http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue",
        created=None, msgid="urn:uuid:5f9a3a5e-0000-4000-8000-000000000001"):
    now = time.time() if created is None else created
    t = lambda x: ec.iso_utc(x, millis=True)  # noqa: E731
    x = lambda v: v.replace("&", "&amp;").replace("<", "&lt;")  # noqa: E731
    return ("""<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:u="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">
 <s:Header>
  <a:Action s:mustUnderstand="1">%s</a:Action>
  <a:MessageID>%s</a:MessageID>
  <a:ReplyTo><a:Address>http://www.w3.org/2005/08/addressing/anonymous</a:Address></a:ReplyTo>
  <a:To s:mustUnderstand="1">%s</a:To>
  <o:Security s:mustUnderstand="1" xmlns:o="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
   <u:Timestamp u:Id="_0"><u:Created>%s</u:Created><u:Expires>%s</u:Expires></u:Timestamp>
   <o:UsernameToken u:Id="uuid-1"><o:Username>%s</o:Username><o:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">%s</o:Password></o:UsernameToken>
  </o:Security>
 </s:Header>
 <s:Body>
  <t:RequestSecurityToken xmlns:t="http://docs.oasis-open.org/ws-sx/ws-trust/200512">
   <wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><a:EndpointReference><a:Address>%s</a:Address></a:EndpointReference></wsp:AppliesTo>
   <t:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</t:KeyType>
   <t:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</t:RequestType>
   <t:TokenType>urn:oasis:names:tc:SAML:2.0:assertion</t:TokenType>
  </t:RequestSecurityToken>
 </s:Body>
</s:Envelope>""" % (action, msgid, x(to), t(now), t(now + 300), x(user), x(password), x(rp))).encode()


def soap_post(base, body, ctype="application/soap+xml; charset=utf-8"):
    return fetch(base + WSTRUST, body, headers={"Content-Type": ctype})


def soap_fault(body):
    """-> (Code, Subcode as {ns}local, Reason) of a SOAP 1.2 fault."""
    ns = {"s": "http://www.w3.org/2003/05/soap-envelope"}
    root = ET.fromstring(body)
    f = root.find("s:Body/s:Fault", ns)
    if f is None:
        return None
    sub = f.find("s:Code/s:Subcode/s:Value", ns)
    subq = None
    if sub is not None:
        # QName in text: resolve its prefix against the declarations in the raw text.
        prefix, _, local = sub.text.partition(":")
        m = re.search(r'<s:Value xmlns:%s="([^"]+)">%s</s:Value>' % (re.escape(prefix), re.escape(sub.text)),
                      body.decode())
        subq = "{%s}%s" % (m.group(1) if m else "?", local)
    return (f.findtext("s:Code/s:Value", None, ns), subq, f.findtext("s:Reason/s:Text", None, ns))


def wrap_assertion(assertion):
    """What a WS-Trust client does: an unsigned samlp:Response around the
    signed Assertion bytes, exactly as received."""
    return ('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_w1" Version="2.0" '
            'IssueInstant="%s" Destination="https://signin.aws.amazon.com/saml"><saml:Issuer '
            'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">http://adfs.example.com/adfs/services/trust'
            '</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
            '</samlp:Status>' % ec.iso_utc(time.time())).encode() + assertion + b"</samlp:Response>"


def wstrust_part(adfs, sts):
    adfs.control("reset", {})
    to = "https://localhost:%s%s" % (adfs.base.rsplit(":", 1)[1], WSTRUST)
    st, hd, body = soap_post(adfs.base, rst(to, "EXAMPLE\\alice", "Correct-Horse-1"))
    R.check("WS-Trust: 200 application/soap+xml", st == 200
            and hd["Content-Type"] == "application/soap+xml; charset=utf-8", (st, body[:300]))
    w = {"s": "http://www.w3.org/2003/05/soap-envelope", "a": "http://www.w3.org/2005/08/addressing",
         "t": "http://docs.oasis-open.org/ws-sx/ws-trust/200512",
         "wsp": "http://schemas.xmlsoap.org/ws/2004/09/policy",
         "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
         "saml": ec.NS_SAML}
    root = ET.fromstring(body)
    r = root.find("s:Body/t:RequestSecurityTokenResponseCollection/t:RequestSecurityTokenResponse", w)
    R.check("WS-Trust: Action IssueFinal, RelatesTo the MessageID",
            root.findtext("s:Header/a:Action", None, w) ==
            "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTRC/IssueFinal"
            and root.findtext("s:Header/a:RelatesTo", None, w) == "urn:uuid:5f9a3a5e-0000-4000-8000-000000000001")
    R.check("WS-Trust: RSTR Lifetime/AppliesTo/TokenType/RequestType/KeyType", r is not None
            and approx(ec.parse_iso(r.findtext("t:Lifetime/wsu:Expires", "", w)), time.time() + 3600)
            and r.findtext("wsp:AppliesTo/a:EndpointReference/a:Address", None, w) == RP
            and r.findtext("t:TokenType", None, w) == "urn:oasis:names:tc:SAML:2.0:assertion"
            and r.findtext("t:RequestType", None, w).endswith("/200512/Issue")
            and r.findtext("t:KeyType", None, w).endswith("/200512/Bearer"))
    a = r.find("t:RequestedSecurityToken/saml:Assertion", w) if r is not None else None
    R.check("WS-Trust: RequestedSecurityToken holds the Assertion", a is not None
            and a.findtext("saml:Subject/saml:NameID", None, w) == "EXAMPLE\\alice")
    m = re.search(rb"<trust:RequestedSecurityToken>(.*)</trust:RequestedSecurityToken>", body, re.S)
    assertion = m.group(1) if m else b""
    key = adfs_world["saml"]["hmac_key"]
    wrapped = wrap_assertion(assertion)
    R.check("WS-Trust: the Assertion bytes verify, inside a client-built Response",
            ec.saml_verify(wrapped, key) is None)
    st, _, res = sts_call(sts.base, Action="AssumeRoleWithSAML", Version="2011-06-15", RoleArn=DEV,
                          PrincipalArn=DEV_IDP, SAMLAssertion=base64.b64encode(wrapped).decode())
    R.check("WS-Trust: STS redeems the wrapped assertion", st == 200 and res.findtext(
        "sts:AssumeRoleWithSAMLResult/sts:AssumedRoleUser/sts:Arn", None, NS) ==
        "arn:aws:sts::111122223333:assumed-role/ADFS-Dev/alice@example.com", ET.tostring(res)[:300])
    # Re-serialized by an XML library (other prefixes, "<a/>" instead of
    # "<a />"): as with exc-c14n XML-DSig, the signature still holds.
    reser = ET.tostring(ET.fromstring(assertion))
    R.check("WS-Trust: a re-serialized Assertion still verifies", reser != assertion
            and b"ns0:" in reser and ec.saml_verify(wrap_assertion(reser), key) is None)
    tampered = wrapped.replace(b">alice@example.com<", b">mallory@example<")
    st, _, res = sts_call(sts.base, Action="AssumeRoleWithSAML", Version="2011-06-15", RoleArn=DEV,
                          PrincipalArn=DEV_IDP, SAMLAssertion=base64.b64encode(tampered).decode())
    R.check("WS-Trust: tampered wrapped assertion refused", st == 400
            and err_of(res)[:2] == ("InvalidIdentityToken", "Response signature invalid"), err_of(res))

    trust = "{http://docs.oasis-open.org/ws-sx/ws-trust/200512}"
    st, hd, body = soap_post(adfs.base, rst(to, "EXAMPLE\\alice", "wrong"))
    R.check("WS-Trust: wrong password -> 500 Sender/FailedAuthentication ID3242",
            st == 500 and hd["Content-Type"].startswith("application/soap+xml") and soap_fault(body) ==
            ("s:Sender", trust + "FailedAuthentication",
             "ID3242: The security token could not be authenticated or authorized."), (st, body[:400]))
    st, _, body = soap_post(adfs.base, rst(to, "nobody@example.com", "x"))
    R.check("WS-Trust: unknown user -> the same fault", st == 500
            and soap_fault(body)[2].startswith("ID3242"))
    st, _, body = soap_post(adfs.base, rst(to, "EXAMPLE\\alice", "Correct-Horse-1", rp="urn:nope"))
    R.check("WS-Trust: unknown RP -> ID3082", st == 500 and soap_fault(body)[2] ==
            "ID3082: The request scope is not valid or is unsupported.", soap_fault(body))
    st, _, body = soap_post(adfs.base, rst(to, "EXAMPLE\\alice", "Correct-Horse-1",
                                           action="http://example.com/Nope"))
    R.check("WS-Trust: wrong Action -> ActionNotSupported", st == 500
            and soap_fault(body)[1] == "{http://www.w3.org/2005/08/addressing}ActionNotSupported")
    st, _, body = soap_post(adfs.base, rst(to, "EXAMPLE\\alice", "Correct-Horse-1",
                                           created=time.time() - 3600))
    R.check("WS-Trust: stale u:Timestamp -> InvalidSecurity", st == 500 and soap_fault(body)[2] ==
            "An error occurred when verifying security for the message.", soap_fault(body))
    st, _, body = soap_post(adfs.base, rst(to, "EXAMPLE\\bob", "Battery-Staple-2"))
    R.check("WS-Trust: MFA user -> MSIS7068", st == 500 and soap_fault(body)[2] == "MSIS7068: Access denied.")
    st, _, body = soap_post(adfs.base, rst(to, "EXAMPLE\\alice", "Correct-Horse-1"),
                            ctype="text/xml; charset=utf-8")
    R.check("WS-Trust: SOAP 1.1 content type -> 415", st == 415 and b"application/soap+xml" in body)
    s = adfs.stats()
    R.check("WS-Trust counters", s["wstrust_requests"] == 8 and s["wstrust_failures"] == 7
            and s["wstrust_faults"].get("FailedAuthentication") == 3 and s["password_posts"] == 0
            and s["failures_by_user"].get("example\\alice") == 1, s)
    log = json.dumps(adfs.control("requests")[1])
    R.check("WS-Trust: no password in the request log", "Correct-Horse-1" not in log
            and "wrong" not in log)

    adfs.config(wstrust_recipient=False)
    _, _, body = soap_post(adfs.base, rst(to, "EXAMPLE\\alice", "Correct-Horse-1"))
    m = re.search(rb"<trust:RequestedSecurityToken>(.*)</trust:RequestedSecurityToken>", body, re.S)
    st, _, res = sts_call(sts.base, Action="AssumeRoleWithSAML", Version="2011-06-15", RoleArn=DEV,
                          PrincipalArn=DEV_IDP,
                          SAMLAssertion=base64.b64encode(wrap_assertion(m.group(1))).decode())
    R.check("WS-Trust: without Recipient STS refuses (wstrust_recipient knob)",
            b"Recipient=" not in m.group(1) and st == 400 and err_of(res)[0] == "InvalidIdentityToken")
    adfs.config(wstrust_recipient=True, wstrust_enabled=False)
    st, _, _ = soap_post(adfs.base, rst(to, "EXAMPLE\\alice", "Correct-Horse-1"))
    R.check("WS-Trust disabled (knob) -> 404", st == 404)
    adfs.config(wstrust_enabled=None)


def push_part(adfs):
    url = adfs.base + "/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=" + RP
    adfs.control("reset", {})
    jar = CookieJar()
    st, _, body = fetch(url, {"UserName": "EXAMPLE\\carol", "Password": "Push-Me-3",
                              "AuthMethod": "FormsAuthentication"}, op=opener(jar))
    f = Forms(body.decode())
    opt = f.form("id", "options")
    inputs = {i.get("name"): i.get("value") for i in opt["inputs"]} if opt else {}
    R.check("push: page with form#options, AuthMethod, Context, no code box",
            st == 200 and inputs.get("AuthMethod") == "AzureMfaAuthentication" and inputs.get("Context")
            and f.form("id", "loginForm") is None and b"VerificationCode" not in body
            and all(i.get("name") for fm in f.forms for i in fm["inputs"]), inputs)
    R.check("push: p#validEntropyNumber 42 and p#instructions",
            f.texts.get("validEntropyNumber") == "42" and f.texts.get("instructions"), f.texts)
    action = urllib.parse.urljoin(url, opt["attrs"]["action"]) if opt else url
    poll = {"AuthMethod": inputs.get("AuthMethod"), "Context": inputs.get("Context")}
    st, _, body = fetch(action, poll, op=opener(jar))
    f = Forms(body.decode())
    R.check("push: first poll -> still waiting", st == 200 and f.texts.get("validEntropyNumber") == "42"
            and b"SAMLResponse" not in body)
    st, hd, _ = fetch(action, poll, op=opener(jar, follow=False))
    R.check("push: second poll approves -> 302 + MSISAuth", st == 302
            and any(c.startswith("MSISAuth=") for c in hd.get_all("Set-Cookie") or []))
    st, _, body = fetch(url, op=opener(jar))
    R.check("push: then the cookie gives an assertion", b"SAMLResponse" in body)

    jar = CookieJar()
    _, _, body = fetch(url, {"UserName": "EXAMPLE\\dave", "Password": "Deny-Me-4"}, op=opener(jar))
    opt = Forms(body.decode()).form("id", "options")
    poll = {i.get("name"): i.get("value") for i in opt["inputs"]} if opt else {}
    R.check("push (no number): instructions only", b'id="validEntropyNumber"' not in body
            and b'id="instructions"' in body)
    fetch(url, poll, op=opener(jar))
    st, _, body = fetch(url, poll, op=opener(jar))
    f = Forms(body.decode())
    R.check("push denied -> errorText", st == 200 and f.error_text == "The request was denied"
            and b"SAMLResponse" not in body, f.error_text)
    st, _, body = fetch(url, poll, op=opener(jar))
    R.check("push: polling after the denial -> sign-in expired",
            Forms(body.decode()).error_text == "Your sign-in session has expired. Sign in again.")
    s = adfs.stats()
    R.check("push counters", s["mfa_prompts"] == 2 and s["mfa_polls"] == 4 and s["mfa_posts"] == 5
            and s["mfa_successes"] == 1 and s["mfa_failures"] == 2, s)


# --- part 2: boto3 -------------------------------------------------------------------

def boto_part(sts, ca, dev, prod):
    for k in list(os.environ):
        if k.startswith("AWS_"):
            del os.environ[k]
    os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/aws"
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    try:
        import boto3
        from botocore.config import Config
    except ImportError as e:
        R.check("import boto3 (Debian python3-boto3)", False, e)
        return
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                 read_timeout=10)

    def client(service, c, region, **over):
        args = dict(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                    aws_session_token=c["SessionToken"])
        args.update(over)
        return boto3.session.Session(region_name=region, **args).client(
            service, endpoint_url=sts.base, verify=ca, config=cfg)

    ident = client("sts", dev, "eu-west-1").get_caller_identity()
    R.check("boto3 GetCallerIdentity", ident["Arn"] ==
            "arn:aws:sts::111122223333:assumed-role/ADFS-Dev/alice@example.com"
            and ident["Account"] == "111122223333" and ident["UserId"].endswith(":alice@example.com"), ident)
    role = client("iam", dev, "us-east-1").get_role(RoleName="ADFS-Dev")["Role"]
    R.check("boto3 GetRole MaxSessionDuration", role["MaxSessionDuration"] == 43200
            and role["Arn"] == DEV and role["RoleId"].startswith("AROA")
            and role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Federated"] == DEV_IDP, role)
    got = client_error(client("iam", prod, "us-east-1").get_role, RoleName="ADFS-Prod")
    R.check("GetRole denied for Prod", got == (
        "AccessDenied", "User: arn:aws:sts::444455556666:assumed-role/ADFS-Prod/alice@example.com is "
        "not authorized to perform: iam:GetRole on resource: role ADFS-Prod because no "
        "identity-based policy allows the iam:GetRole action", 403), got)
    got = client_error(client("iam", dev, "us-east-1").get_role, RoleName="Nope")
    R.check("GetRole unknown role -> NoSuchEntity", got and got[0] == "NoSuchEntity" and got[2] == 404, got)
    got = client_error(client("iam", dev, "eu-west-1").get_role, RoleName="ADFS-Dev")
    R.check("IAM signed for wrong region", got == (
        "SignatureDoesNotMatch", "Credential should be scoped to a valid region, not 'eu-west-1'. ", 403), got)
    got = client_error(client("sts", dev, "us-east-1", aws_secret_access_key="x" * 40).get_caller_identity)
    R.check("bad secret -> SignatureDoesNotMatch", got and got[0] == "SignatureDoesNotMatch"
            and got[1].startswith("The request signature we calculated does not match") and got[2] == 403, got)
    got = client_error(client("sts", dev, "us-east-1", aws_access_key_id="ASIA" + "A" * 16).get_caller_identity)
    R.check("unknown key -> InvalidClientTokenId", got == (
        "InvalidClientTokenId", "The security token included in the request is invalid", 403), got)
    got = client_error(client("sts", dev, "us-east-1", aws_session_token=None).get_caller_identity)
    R.check("no session token -> InvalidClientTokenId", got and got[0] == "InvalidClientTokenId", got)
    sts.config(time_offset=1200)
    got = client_error(client("sts", dev, "us-east-1").get_caller_identity)
    R.check("clock skew -> Signature expired", got and got[0] == "SignatureDoesNotMatch" and re.fullmatch(
        r"Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)",
        got[1]), got)
    sts.config(time_offset=3700, sigv4_max_skew=86400)
    got = client_error(client("sts", prod, "us-east-1").get_caller_identity)
    R.check("expired credentials -> ExpiredToken", got == (
        "ExpiredToken", "The security token included in the request is expired", 403), got)
    sts.config(time_offset=0, sigv4_max_skew=None)
    s = sts.stats()
    R.check("stats get_caller_identity/get_role/sigv4_failures",
            s["get_caller_identity"] >= 5 and s["get_role"] == 4 and s["sigv4_failures"] >= 6, s)


def update_role_part(sts, ca, dev, saml_b64):
    """IAM UpdateRole by the world's administrators (long-term AKIA keys):
    the new MaxSessionDuration reaches GetRole and AssumeRoleWithSAML."""
    import boto3
    from botocore.config import Config
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                 read_timeout=10, parameter_validation=False)
    users = adfs_world["iam_users"]
    admin = users["arn:aws:iam::111122223333:user/Administrator"]
    auditor = users["arn:aws:iam::111122223333:user/auditor"]

    def iam(u=None, session=None, token=None, service="iam"):
        if session is not None:
            keys = dict(aws_access_key_id=session["AccessKeyId"],
                        aws_secret_access_key=session["SecretAccessKey"],
                        aws_session_token=session["SessionToken"])
        else:
            keys = dict(aws_access_key_id=u["access_key_id"],
                        aws_secret_access_key=u["secret_access_key"], aws_session_token=token)
        return boto3.session.Session(region_name="us-east-1", **keys).client(
            service, endpoint_url=sts.base, verify=ca, config=cfg)

    def assume(duration):
        st, _, root = sts_call(sts.base, Action="AssumeRoleWithSAML", Version="2011-06-15",
                               RoleArn=DEV, PrincipalArn=DEV_IDP, SAMLAssertion=saml_b64,
                               DurationSeconds=str(duration))
        return st, (err_of(root)[0] if st != 200 else None)

    ident = iam(admin, service="sts").get_caller_identity()
    R.check("admin keys: GetCallerIdentity is the IAM user",
            ident["Arn"] == "arn:aws:iam::111122223333:user/Administrator"
            and ident["Account"] == "111122223333" and ident["UserId"].startswith("AIDA"), ident)
    sts.config(role_overrides={DEV: {"max_session_duration": 7200}})
    R.check("before: AssumeRoleWithSAML at 4 h refused", assume(14400) == (400, "ValidationError"))
    out = iam(admin).update_role(RoleName="adfs-dev", MaxSessionDuration=14400)
    R.check("UpdateRole 200 (role names are case-insensitive)",
            out["ResponseMetadata"]["HTTPStatusCode"] == 200, out)
    role = iam(admin).get_role(RoleName="ADFS-Dev")["Role"]
    R.check("UpdateRole -> admin's GetRole sees 14400", role["MaxSessionDuration"] == 14400, role)
    role = iam(session=dev).get_role(RoleName="ADFS-Dev")["Role"]
    R.check("UpdateRole -> the role session's GetRole sees 14400",
            role["MaxSessionDuration"] == 14400, role)
    R.check("UpdateRole -> AssumeRoleWithSAML at 4 h granted", assume(14400) == (200, None))
    R.check("... and at 12 h still refused", assume(43200) == (400, "ValidationError"))
    iam(admin).update_role(RoleName="ADFS-Dev", MaxSessionDuration=43200, Description="raised")
    R.check("UpdateRole to 43200 -> AssumeRoleWithSAML at 12 h granted",
            assume(43200) == (200, None))
    role = iam(admin).get_role(RoleName="ADFS-Dev")["Role"]
    R.check("UpdateRole Description -> GetRole Description",
            role.get("Description") == "raised" and role["MaxSessionDuration"] == 43200, role)
    R.check("UpdateRole is a role_overrides knob",
            sts.control("config")[1]["role_overrides"][DEV]["max_session_duration"] == 43200)

    head = "Value '%s' at 'maxSessionDuration' failed to satisfy constraint: Member must have value "
    got = client_error(iam(admin).update_role, RoleName="ADFS-Dev", MaxSessionDuration=43201)
    R.check("UpdateRole 43201 -> ValidationError", got == (
        "ValidationError", "1 validation error detected: " + head % 43201
        + "less than or equal to 43200", 400), got)
    got = client_error(iam(admin).update_role, RoleName="ADFS-Dev", MaxSessionDuration=3599)
    R.check("UpdateRole 3599 -> ValidationError", got == (
        "ValidationError", "1 validation error detected: " + head % 3599
        + "greater than or equal to 3600", 400), got)
    got = client_error(iam(admin).update_role, MaxSessionDuration=50000)
    R.check("UpdateRole no RoleName, 50000 -> 2 validation errors", got == (
        "ValidationError", "2 validation errors detected: Value null at 'roleName' failed to "
        "satisfy constraint: Member must not be null; " + head % 50000
        + "less than or equal to 43200", 400), got)
    got = client_error(iam(admin).update_role, RoleName="ADFS-Prod", MaxSessionDuration=7200)
    R.check("UpdateRole on another account's role -> NoSuchEntity", got == (
        "NoSuchEntity", "The role with name ADFS-Prod cannot be found.", 404), got)
    got = client_error(iam(auditor).update_role, RoleName="ADFS-Dev", MaxSessionDuration=3600)
    R.check("UpdateRole by a non-admin user -> AccessDenied", got == (
        "AccessDenied", "User: arn:aws:iam::111122223333:user/auditor is not authorized to "
        "perform: iam:UpdateRole on resource: role ADFS-Dev because no identity-based policy "
        "allows the iam:UpdateRole action", 403), got)
    got = client_error(iam(session=dev).update_role, RoleName="ADFS-Dev", MaxSessionDuration=3600)
    R.check("UpdateRole by a role session -> AccessDenied",
            got and got[0] == "AccessDenied" and got[2] == 403
            and "assumed-role/ADFS-Dev/alice@example.com is not authorized to perform: "
            "iam:UpdateRole" in got[1], got)
    got = client_error(iam(auditor).get_role, RoleName="ADFS-Dev")
    R.check("GetRole by a non-admin user -> AccessDenied", got and got[0] == "AccessDenied", got)
    got = client_error(iam(admin, token="IQoJ" + "x" * 100).update_role, RoleName="ADFS-Dev",
                MaxSessionDuration=3600)
    R.check("long-term key with a session token -> InvalidClientTokenId", got == (
        "InvalidClientTokenId", "The security token included in the request is invalid", 403), got)
    got = client_error(iam(dict(admin, secret_access_key="y" * 40)).update_role, RoleName="ADFS-Dev",
                MaxSessionDuration=3600)
    R.check("admin key, wrong secret -> SignatureDoesNotMatch",
            got and got[0] == "SignatureDoesNotMatch", got)
    R.check("refused UpdateRoles changed nothing",
            iam(admin).get_role(RoleName="ADFS-Dev")["Role"]["MaxSessionDuration"] == 43200)
    R.check("stats update_role", sts.stats()["update_role"] == 10, sts.stats())
    sts.config(role_overrides={DEV: None})


adfs_world = None


def main():
    global CTX, adfs_world
    import ssl
    tmp = tempfile.mkdtemp(prefix="emu-selftest-")
    subprocess.run(["sh", os.path.join(HERE, "mkcerts.sh"), tmp], check=True)
    ca = os.path.join(tmp, "ca.pem")
    CTX = ssl.create_default_context(cafile=ca)
    with open(os.path.join(HERE, "world.example.json"), encoding="utf-8") as f:
        world = json.load(f)
    world["providers"][OTHER_IDP] = {"issuer": "http://other.example.com/adfs/services/trust"}
    roles = ["arn:aws:iam::111122223333:role/ADFS-Dev,arn:aws:iam::111122223333:saml-provider/ADFS"]
    world["users"] += [
        {"username": "EXAMPLE\\carol", "password": "Push-Me-3", "roles": roles,
         "mfa": {"type": "push", "number": "42", "approve_after_polls": 2}},
        {"username": "EXAMPLE\\dave", "password": "Deny-Me-4", "roles": roles,
         "mfa": {"type": "push", "approve_after_polls": 2, "deny": True}}]
    kdc = None
    try:
        import gssapi
        if gssapi and krb5.available():
            kdc = krb5.KDC().start()
    except Exception as e:  # no KDC: WIA checks are skipped, not failed
        print("note: WIA checks skipped: %s" % e)
    if kdc is not None:
        os.environ.update(kdc.env)
        world["adfs"]["wia"] = {"enabled": True, "service_principal": "HTTP/localhost",
                                "keytab": kdc.keytab, "users": {kdc.principal: "EXAMPLE\\alice"}}
    world_path = os.path.join(tmp, "world.json")
    with open(world_path, "w", encoding="utf-8") as f:
        json.dump(world, f)
    adfs_world = ec.load_world(world_path)

    adfs = Emulator("adfs_emulator.py", world_path, tmp)
    sts = Emulator("sts_emulator.py", world_path, tmp)
    try:
        jar, url, saml_b64 = adfs_part(adfs)
        dev, prod, _ = sts_part(sts, adfs, jar, url, saml_b64)
        control_part(sts, adfs, jar, url)
        reset_part(sts, tmp)
        boto_part(sts, ca, dev, prod)
        update_role_part(sts, ca, dev, saml_b64)
        if kdc is not None:
            wia_part(adfs, sts, kdc)
        wstrust_part(adfs, sts)
        push_part(adfs)
    except Exception as e:  # a crash is a failure, not a traceback-only exit
        import traceback
        traceback.print_exc()
        R.check("selftest ran to completion", False, repr(e))
    finally:
        t0 = time.monotonic()
        rcs = (adfs.stop(), sts.stop())
        R.check("SIGTERM: both exit 0 promptly", rcs == (0, 0) and time.monotonic() - t0 < 5, rcs)
        if kdc is not None:
            kdc.stop()
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
    print("%d passed, %d failed" % (R.passed, R.failed))
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
