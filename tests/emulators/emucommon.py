"""Shared code for the ADFS and STS/IAM test emulators of adfs-credd.

Python 3.11 standard library only (runs under Debian 12's /usr/bin/python3).

What lives here:
  * world loading and validation (the JSON file both emulators read),
  * the emulator-only SAML "signature" (HMAC-SHA256 stand-in for XML-DSig),
  * runtime knobs (fault injection, clock offset), thread-safe counters and a
    request log, served on the /_emulator/ control endpoints,
  * a TLS ThreadingHTTPServer and a request handler base class,
  * main(): the command-line contract shared by both emulators.

See README.md in this directory for the world format and the control API.
"""

import argparse
import base64
import collections
import copy
import email.utils
import hashlib
import hmac
import json
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

MAX_BODY = 1 << 20          # bodies above 1 MiB are refused with 413
REQUEST_LOG_LEN = 500       # entries kept for GET /_emulator/requests

NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
HMAC_ALG = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"

AWS_SAML_RECIPIENT = "https://signin.aws.amazon.com/saml"
ATTR_ROLE = "https://aws.amazon.com/SAML/Attributes/Role"
ATTR_SESSION_NAME = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
ATTR_SESSION_DURATION = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
ATTR_SOURCE_IDENTITY = "https://aws.amazon.com/SAML/Attributes/SourceIdentity"

ROLE_ARN_RE = re.compile(r"^arn:aws:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]{1,64})$")
PROVIDER_ARN_RE = re.compile(r"^arn:aws:iam::(\d{12}):saml-provider/([\w.-]{1,128})$")
USER_ARN_RE = re.compile(r"^arn:aws:iam::(\d{12}):user/(?:[\w+=,.@/-]*/)?([\w+=,.@-]{1,64})$")


# --------------------------------------------------------------------------
# Time helpers.  Every emulator has its own shifted clock (Emulator.now()).

def iso_utc(ts, millis=False):
    """Epoch seconds -> 'YYYY-MM-DDTHH:MM:SSZ' (or with .mmm when millis)."""
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    if millis:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text):
    """Parse an xs:dateTime as used in SAML (UTC 'Z', optional fraction or offset)."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError("timestamp without zone: %r" % text)
    return dt.timestamp()


def amz_date(ts):
    """Epoch seconds -> SigV4 basic format 'YYYYMMDDTHHMMSSZ'."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


# --------------------------------------------------------------------------
# World file

class WorldError(Exception):
    pass


def _want(cond, msg):
    if not cond:
        raise WorldError(msg)


def _int_in(d, key, lo, hi, default, where):
    v = d.get(key, default)
    _want(isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi,
          "%s.%s must be an integer in %d..%d" % (where, key, lo, hi))
    return v


def role_id_for(arn):
    """Stable fake RoleId ('AROA' + 17 upper-case alphanumerics) for an ARN."""
    digest = base64.b32encode(hashlib.sha256(arn.encode()).digest()).decode()
    return "AROA" + digest.replace("=", "")[:17]


def load_world(path):
    """Read, validate and fill in defaults of a world file; returns a dict.

    Raises WorldError with a readable message on any problem.
    """
    try:
        with open(path, encoding="utf-8") as f:
            w = json.load(f)
    except (OSError, ValueError) as e:
        raise WorldError("%s: %s" % (path, e)) from None
    _want(isinstance(w, dict), "world must be a JSON object")
    known = {"saml", "adfs", "providers", "roles", "users", "iam_users", "sts", "comment"}
    extra = set(w) - known
    _want(not extra, "unknown top-level keys: %s" % ", ".join(sorted(extra)))

    saml = w.setdefault("saml", {})
    _want(isinstance(saml.get("hmac_key"), str) and len(saml["hmac_key"]) >= 16,
          "saml.hmac_key must be a string of at least 16 characters")

    a = w.setdefault("adfs", {})
    a.setdefault("host", "adfs.example.com")
    a.setdefault("issuer", "http://%s/adfs/services/trust" % a["host"])
    a.setdefault("company_name", "Example Corp")
    a.setdefault("idp_initiated_signon", True)
    a["sso_lifetime"] = _int_in(a, "sso_lifetime", 1, 10 * 365 * 86400, 28800, "adfs")
    # Keep me signed in, by our names or by AD FS's own (Set-AdfsProperties
    # -EnableKmsi, -KmsiLifetimeMins, default 1440 minutes = 1 day).
    if "EnableKmsi" in a:
        _want(isinstance(a["EnableKmsi"], bool), "adfs.EnableKmsi must be a boolean")
        _want(a.get("kmsi_enabled", a["EnableKmsi"]) == a["EnableKmsi"],
              "adfs.EnableKmsi and adfs.kmsi_enabled disagree")
        a["kmsi_enabled"] = a["EnableKmsi"]
    if "KmsiLifetimeMins" in a:
        mins = _int_in(a, "KmsiLifetimeMins", 1, 10 * 365 * 1440, 1440, "adfs")
        _want(a.get("kmsi_lifetime", mins * 60) == mins * 60,
              "adfs.KmsiLifetimeMins and adfs.kmsi_lifetime disagree")
        a["kmsi_lifetime"] = mins * 60
    a.setdefault("kmsi_enabled", False)
    _want(isinstance(a["kmsi_enabled"], bool), "adfs.kmsi_enabled must be a boolean")
    a["kmsi_lifetime"] = _int_in(a, "kmsi_lifetime", 1, 10 * 365 * 86400, 86400, "adfs")
    a["EnableKmsi"] = a["kmsi_enabled"]
    a["KmsiLifetimeMins"] = max(1, a["kmsi_lifetime"] // 60)
    a["token_lifetime"] = _int_in(a, "token_lifetime", 1, 86400 * 7, 3600, "adfs")
    a["confirmation_lifetime"] = _int_in(a, "confirmation_lifetime", 1, 86400, 300, "adfs")
    a.setdefault("absolute_redirects", False)
    a.setdefault("error_text_tag", "span")
    _want(a["error_text_tag"] in ("span", "label"), "adfs.error_text_tag must be span or label")
    a.setdefault("assertion_prefix", "")
    _want(re.fullmatch(r"([A-Za-z_][\w-]*)?", a["assertion_prefix"]) is not None,
          "adfs.assertion_prefix must be empty or an XML name")
    ld = a.setdefault("loop_detection", {})
    ld.setdefault("enabled", True)
    ld["max_tokens"] = _int_in(ld, "max_tokens", 1, 10000, 5, "adfs.loop_detection")
    ld["interval"] = _int_in(ld, "interval", 1, 86400, 20, "adfs.loop_detection")
    rps = a.setdefault("relying_parties", {"urn:amazon:webservices": {}})
    _want(isinstance(rps, dict) and rps, "adfs.relying_parties must be a non-empty object")
    for rp_id, rp in rps.items():
        rp.setdefault("name", "Amazon Web Services")
        rp.setdefault("acs", "https://signin.aws.amazon.com:443/saml")
        rp.setdefault("destination", AWS_SAML_RECIPIENT)
        rp.setdefault("recipient", AWS_SAML_RECIPIENT)
        rp.setdefault("audience", rp_id)

    providers = w.setdefault("providers", {})
    _want(isinstance(providers, dict) and providers, "providers must be a non-empty object")
    for arn, p in providers.items():
        _want(PROVIDER_ARN_RE.match(arn), "bad SAML provider ARN %r" % arn)
        p.setdefault("issuer", a["issuer"])

    roles = w.setdefault("roles", {})
    _want(isinstance(roles, dict) and roles, "roles must be a non-empty object")
    for arn, r in roles.items():
        m = ROLE_ARN_RE.match(arn)
        _want(m, "bad role ARN %r" % arn)
        r["account"], r["name"] = m.group(1), m.group(2)
        r["max_session_duration"] = _int_in(r, "max_session_duration", 3600, 43200, 3600,
                                            "roles[%s]" % arn)
        r.setdefault("get_role", False)
        r.setdefault("role_id", role_id_for(arn))
        r.setdefault("path", arn.split(":role", 1)[1][:-len(r["name"])] or "/")
        r.setdefault("create_date", "2019-04-01T08:00:00Z")
        r.setdefault("provider", "arn:aws:iam::%s:saml-provider/ADFS" % r["account"])
        _want(r["provider"] in providers,
              "roles[%s].provider %r is not in providers" % (arn, r["provider"]))

    users = w.setdefault("users", [])
    _want(isinstance(users, list) and users, "users must be a non-empty list")
    for i, u in enumerate(users):
        where = "users[%d]" % i
        for key in ("username", "password"):
            _want(isinstance(u.get(key), str) and u[key], "%s.%s is required" % (where, key))
        _want("\\" in u["username"], "%s.username must look like DOMAIN\\\\user" % where)
        short = u["username"].split("\\", 1)[1]
        u.setdefault("upn", "%s@example.com" % short)
        u.setdefault("name_id", u["upn"])
        u.setdefault("role_session_name", u["upn"])
        _want(isinstance(u.get("roles"), list), "%s.roles must be a list" % where)
        for v in u["roles"]:
            _want(isinstance(v, str), "%s.roles entries are strings 'roleArn,providerArn'" % where)
        u.setdefault("session_duration", None)
        u.setdefault("session_not_on_or_after", None)
        u.setdefault("mfa", None)
        if u["mfa"] is not None:
            _check_mfa(u["mfa"], where + ".mfa")
        u.setdefault("attributes", {})

    wia = a.setdefault("wia", {})
    _want(isinstance(wia, dict), "adfs.wia must be an object")
    wia.setdefault("enabled", False)
    _want(isinstance(wia["enabled"], bool), "adfs.wia.enabled must be true or false")
    wia.setdefault("service_principal", "HTTP/localhost")
    _want(isinstance(wia["service_principal"], str) and wia["service_principal"],
          "adfs.wia.service_principal must be a string like HTTP/localhost")
    wia.setdefault("keytab", None)
    _want(wia["keytab"] is None or isinstance(wia["keytab"], str),
          "adfs.wia.keytab must be null or a path")
    wia.setdefault("user_agents", list(WIA_DEFAULT_USER_AGENTS))
    _want(isinstance(wia["user_agents"], list)
          and all(isinstance(x, str) and x for x in wia["user_agents"]),
          "adfs.wia.user_agents must be a list of non-empty strings")
    for x in wia["user_agents"]:
        if x.startswith("=~"):
            try:
                re.compile(x[2:])
            except re.error as e:
                raise WorldError("adfs.wia.user_agents: bad regex %r: %s" % (x, e)) from None
    wia.setdefault("users", {})
    _want(isinstance(wia["users"], dict)
          and all(isinstance(k, str) and isinstance(v, str) for k, v in wia["users"].items()),
          "adfs.wia.users must map Kerberos principals to world usernames")
    for principal, login in wia["users"].items():
        _want(find_user(w, login) is not None,
              "adfs.wia.users[%s]: %r is not a world user" % (principal, login))
    a.setdefault("wstrust_enabled", True)
    _want(isinstance(a["wstrust_enabled"], bool), "adfs.wstrust_enabled must be true or false")

    iam_users = w.setdefault("iam_users", {})
    _want(isinstance(iam_users, dict), "iam_users must be an object")
    akids = set()
    for arn, u in iam_users.items():
        m = USER_ARN_RE.match(arn)
        _want(m and isinstance(u, dict), "bad IAM user ARN %r" % arn)
        u["account"], u["name"] = m.group(1), m.group(2)
        _want(isinstance(u.get("access_key_id"), str)
              and re.fullmatch(r"AKIA[A-Z0-9]{16}", u["access_key_id"]),
              "iam_users[%s].access_key_id must be AKIA + 16 of [A-Z0-9]" % arn)
        _want(u["access_key_id"] not in akids,
              "iam_users[%s].access_key_id is used twice" % arn)
        akids.add(u["access_key_id"])
        _want(isinstance(u.get("secret_access_key"), str) and len(u["secret_access_key"]) >= 16,
              "iam_users[%s].secret_access_key must be a string of at least 16 characters" % arn)
        u.setdefault("admin", False)
        _want(isinstance(u["admin"], bool), "iam_users[%s].admin must be true or false" % arn)
        u.setdefault("user_id", "AIDA" + role_id_for(arn)[4:])

    s = w.setdefault("sts", {})
    s["assertion_max_age"] = _int_in(s, "assertion_max_age", 1, 86400, 300, "sts")
    s["sigv4_max_skew"] = _int_in(s, "sigv4_max_skew", 1, 86400, 900, "sts")
    s.setdefault("iam_signing_region", "us-east-1")
    s["session_token_bytes"] = _int_in(s, "session_token_bytes", 16, 4096, 600, "sts")
    return w


# AD FS's default WIASupportedUserAgents (AD FS 2016; `Get-AdfsProperties | select
# -ExpandProperty WiaSupportedUserAgents`).  Entries are substring matches;
# "=~" marks a regular expression (AD FS 2016+).  Sources: README.md.
WIA_DEFAULT_USER_AGENTS = [
    "MSAuthHost/1.0/In-Domain", "MSIE 6.0", "MSIE 7.0", "MSIE 8.0", "MSIE 9.0",
    "MSIE 10.0", "Trident/7.0", "MSIPC", "Windows Rights Management Client",
    "=~Windows\\s*NT.*Edge",
]


def _check_mfa(m, where):
    """Validate a user's "mfa" object in place (defaults filled in)."""
    _want(isinstance(m, dict), "%s must be null or an object" % where)
    m.setdefault("type", "otp")
    m.setdefault("auth_method", "AzureMfaAuthentication")
    _want(isinstance(m["auth_method"], str), "%s.auth_method must be a string" % where)
    if m["type"] == "otp":
        _want(isinstance(m.get("code"), str) and m["code"],
              "%s: type otp needs \"code\": \"123456\"" % where)
    elif m["type"] == "push":
        m.setdefault("number", "")
        _want(isinstance(m["number"], str), "%s.number must be a string" % where)
        m["approve_after_polls"] = _int_in(m, "approve_after_polls", -1, 100000, 2, where)
        m.setdefault("deny", False)
        _want(isinstance(m["deny"], bool), "%s.deny must be true or false" % where)
    else:
        raise WorldError("%s.type must be \"otp\" or \"push\"" % where)


def find_user(world, login_name):
    """Find a user by 'DOMAIN\\user' or UPN, case-insensitively, like AD does."""
    key = login_name.strip().lower()
    for u in world["users"]:
        if key in (u["username"].lower(), u["upn"].lower()):
            return u
    return None


# --------------------------------------------------------------------------
# Emulator-only SAML signature (stand-in for XML-DSig; see README.md).
#
# Like XML-DSig with exclusive canonicalization, the signature covers the
# canonical form of the Assertion element with its <Signature> child taken
# out, so a client may re-serialize the Assertion (attribute quoting, empty
# elements, where namespaces are declared, which prefixes are used) as long
# as the XML information stays the same.  The canonical form is Python's
# C14N 2.0 (xml.etree.ElementTree.canonicalize) with rewrite_prefixes=True,
# of the Assertion as a stand-alone document.  SignatureValue =
# base64(HMAC-SHA256(key, canonical bytes)), DigestValue =
# base64(SHA-256(canonical bytes)), key = the UTF-8 bytes of
# world.saml.hmac_key.  The generator builds the unsigned Assertion, computes
# both values, and inserts <ds:Signature> right after the Assertion's
# <Issuer>, where AD FS puts its enveloped signature.  Any change to text,
# attributes or element structure breaks it, and so does a second Assertion.

class SamlError(Exception):
    pass


def _canonical(xml):
    """C14N 2.0 bytes of an XML document (str/bytes), prefixes normalised."""
    if isinstance(xml, bytes):
        xml = xml.decode("utf-8")
    return ET.canonicalize(xml, rewrite_prefixes=True).encode("utf-8")


def _signature_xml(assertion_id, digest_b64, sig_b64):
    return (
        '<ds:Signature xmlns:ds="%s"><ds:SignedInfo>'
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#" />'
        '<ds:SignatureMethod Algorithm="%s" />'
        '<ds:Reference URI="#%s"><ds:Transforms>'
        '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature" />'
        '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#" />'
        '</ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256" />'
        '<ds:DigestValue>%s</ds:DigestValue></ds:Reference></ds:SignedInfo>'
        '<ds:SignatureValue>%s</ds:SignatureValue>'
        '<KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><ds:KeyName>adfs-emulator-hmac</ds:KeyName></KeyInfo>'
        '</ds:Signature>' % (NS_DS, HMAC_ALG, assertion_id, digest_b64, sig_b64))


def saml_sign_assertion(assertion_xml, assertion_id, key):
    """Insert the emulator signature into an unsigned Assertion (str -> str).
    The Assertion must declare its own namespaces (stand-alone XML)."""
    raw = _canonical(assertion_xml)
    digest = base64.b64encode(hashlib.sha256(raw).digest()).decode()
    sig = base64.b64encode(hmac.new(key.encode(), raw, hashlib.sha256).digest()).decode()
    m = re.search(r"</(?:[\w.-]+:)?Issuer>", assertion_xml)
    if not m:
        raise SamlError("assertion has no Issuer")
    return (assertion_xml[:m.end()] + _signature_xml(assertion_id, digest, sig)
            + assertion_xml[m.end():])


def saml_verify(doc, key):
    """Check the emulator signature of a decoded SAMLResponse (bytes).

    Returns None when valid, else a short reason string (for logs/tests).
    """
    try:
        root = ET.fromstring(doc)
    except ET.ParseError as e:
        return "not well-formed XML: %s" % e
    found = [a for a in root.iter("{%s}Assertion" % NS_SAML)]
    if len(found) != 1:
        return "expected exactly one Assertion element, found %d" % len(found)
    assertion = copy.deepcopy(found[0])
    sigs = [c for c in assertion if c.tag == "{%s}Signature" % NS_DS]
    if len(sigs) != 1 or len(list(assertion.iter("{%s}Signature" % NS_DS))) != 1:
        return "expected exactly one Signature in the Assertion"
    sig = sigs[0]
    sv = sig.findtext("{%s}SignatureValue" % NS_DS)
    dv = sig.findtext("{%s}SignedInfo/{%s}Reference/{%s}DigestValue" % (NS_DS, NS_DS, NS_DS))
    ref = sig.find("{%s}SignedInfo/{%s}Reference" % (NS_DS, NS_DS))
    aid = assertion.get("ID")
    if sv is None or dv is None or ref is None or not aid:
        return "signature element incomplete"
    if ref.get("URI") != "#" + aid:
        return "Reference URI does not name the Assertion ID"
    # Enveloped-signature transform: drop the Signature (its tail text too,
    # which the generator never writes).
    assertion.remove(sig)
    signed = _canonical(ET.tostring(assertion, encoding="unicode"))
    want_digest = base64.b64encode(hashlib.sha256(signed).digest()).decode()
    want_sig = base64.b64encode(hmac.new(key.encode(), signed, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(dv.strip(), want_digest):
        return "digest mismatch"
    if not hmac.compare_digest(sv.strip(), want_sig):
        return "signature value mismatch"
    return None


# --------------------------------------------------------------------------
# Counters, request log and runtime knobs.

class Stats:
    """Thread-safe counters: plain ints, and dicts of ints keyed by e.g. error code."""

    def __init__(self, names, dict_names=()):
        self._names, self._dict_names = tuple(names), tuple(dict_names)
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self._c = {n: 0 for n in self._names}
            self._c.update({n: {} for n in self._dict_names})

    def inc(self, name, key=None, by=1):
        with self._lock:
            if key is None:
                self._c[name] = self._c.get(name, 0) + by
            else:
                d = self._c.setdefault(name, {})
                d[key] = d.get(key, 0) + by

    def snapshot(self):
        with self._lock:
            return copy.deepcopy(self._c)


class RequestLog:
    """The last REQUEST_LOG_LEN requests (secrets redacted), oldest first."""

    def __init__(self):
        self._lock = threading.Lock()
        self._q = collections.deque(maxlen=REQUEST_LOG_LEN)

    def add(self, entry):
        with self._lock:
            self._q.append(entry)

    def clear(self):
        with self._lock:
            self._q.clear()

    def list(self):
        with self._lock:
            return list(self._q)


# Knobs shared by both emulators: name -> (allowed types, default).
# A "<fault>_count" is how many matching requests the fault hits: 0 = off,
# N = the next N, -1 = every one until changed.
COMMON_KNOBS = {
    "time_offset": ((int, float), 0),      # seconds added to the real clock
    "delay": ((int, float), 0),            # sleep this long before answering
    "delay_count": ((int,), -1),
    "fail_status": ((int,), 0),            # answer with this HTTP status ...
    "fail_count": ((int,), 0),             # ... this many times
    "fail_code": ((str,), ""),             # STS: error Code (default by status)
    "fail_message": ((str,), ""),          # STS: error Message
    "fail_body": ((str, type(None)), None),  # raw body instead of the default
    "fail_content_type": ((str,), ""),
    "fail_body_repeat": ((int,), 1),       # repeat fail_body (oversized pages)
    "fail_location": ((str,), ""),         # Location header (off-origin redirects)
    "hang_count": ((int,), 0),             # read request, never answer ...
    "hang_seconds": ((int, float), 600),   # ... for this long, then close
    "drop_count": ((int,), 0),             # close the connection, no answer
    "truncate_count": ((int,), 0),         # send the first half of the body
    "reset_count": ((int,), 0),            # read request, abort with a TCP RST
    "fault_ops": ((list,), []),            # ops the faults apply to ([] = all)
    # TLS faults hit a connection before any request (fault_ops do not apply):
    "tls_reset_count": ((int,), 0),        # RST instead of the TLS handshake
    "tls_cert": ((str, type(None)), None),  # PEM file (certificate and key) to
                                           # present instead, e.g. another CA's
    "tls_exempt": ((list,), []),           # client addresses TLS faults spare
}


class Knobs:
    """Runtime configuration (POST /_emulator/config merges into it)."""

    def __init__(self, spec):
        self._spec = dict(spec)
        self._lock = threading.Lock()
        self._v = {k: copy.deepcopy(d) for k, (_, d) in self._spec.items()}

    def get(self, name):
        with self._lock:
            return copy.deepcopy(self._v[name])

    def snapshot(self):
        with self._lock:
            return copy.deepcopy(self._v)

    def reset(self):
        with self._lock:
            self._v = {k: copy.deepcopy(d) for k, (_, d) in self._spec.items()}

    def merge(self, updates):
        """Validate all, then apply all.  Dict-valued knobs merge key by key
        (a null value deletes a key).  Raises ValueError on bad input."""
        if not isinstance(updates, dict):
            raise ValueError("config must be a JSON object")
        for k, v in updates.items():
            if k not in self._spec:
                raise ValueError("unknown knob %r (known: %s)" % (k, ", ".join(sorted(self._spec))))
            types = self._spec[k][0]
            if isinstance(v, bool) and bool not in types:
                raise ValueError("knob %r: booleans not allowed" % k)
            if not isinstance(v, types):
                raise ValueError("knob %r: wrong type %s" % (k, type(v).__name__))
        with self._lock:
            for k, v in updates.items():
                if isinstance(v, dict) and isinstance(self._v.get(k), dict):
                    for dk, dv in v.items():
                        if dv is None:
                            self._v[k].pop(dk, None)
                        else:
                            self._v[k][dk] = dv
                else:
                    self._v[k] = copy.deepcopy(v)

    def take(self, name):
        """Consume one unit of a '<fault>_count' knob; True if it fires."""
        with self._lock:
            n = self._v[name]
            if n == 0:
                return False
            if n > 0:
                self._v[name] = n - 1
            return True


# --------------------------------------------------------------------------
# Emulator base: subclasses implement classify(), handle(), fault_reply().

class Emulator:
    name = "emulator"
    server_header = ""          # Server: header value ("" = none)
    extra_knobs = {}
    counters = ()               # int counters
    dict_counters = ()          # counters keyed by a name (error code, user)

    def __init__(self, world, verbose=False, time_offset=0.0):
        self.world = world
        self.verbose = verbose
        self.knobs = Knobs({**COMMON_KNOBS, **self.extra_knobs})
        self.knobs.merge({"time_offset": time_offset})
        self.stats = Stats(("requests",) + tuple(self.counters),
                           tuple(self.dict_counters) + ("faults_injected",))
        self.requests = RequestLog()
        self.lock = threading.RLock()    # guards subclass state

    def now(self):
        return time.time() + self.knobs.get("time_offset")

    def log(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("[%s] %s\n" % (self.name, fmt % args))

    # --- hooks for subclasses -------------------------------------------
    def classify(self, h, url, body):
        """Name of the operation (for fault_ops and the request log)."""
        return h.command

    def handle(self, h, url, body, op):
        h.reply(404, b"not found\n", "text/plain")

    def custom_fault(self, h, status, default_ctype, headers=()):
        """Answers an injected fail_status with fail_body (repeated
        fail_body_repeat times) and fail_location; False when no fail_body
        is set, so the emulator answers in its own service's shape."""
        k = self.knobs.snapshot()
        if k["fail_body"] is None:
            return False
        body = k["fail_body"] * max(1, k["fail_body_repeat"])
        if k["fail_location"]:
            headers = tuple(headers) + (("Location", k["fail_location"]),)
        h.reply(status, body, k["fail_content_type"] or default_ctype, headers)
        return True

    def fault_reply(self, h, status):
        """Answer an injected fail_status."""
        if not self.custom_fault(h, status, "text/plain"):
            h.reply(status, "injected failure %d\n" % status, "text/plain")

    def extra_fault(self, h, op):
        """Emulator-specific faults (e.g. STS Throttling); True if answered."""
        return False

    def reset_state(self):
        """Forget sessions/credentials (POST /_emulator/reset {"state":true})."""

    def extra_control(self, h, name, req):
        """Emulator-specific control endpoints; True if answered."""
        return False

    @classmethod
    def add_arguments(cls, parser):
        """Emulator-specific command-line options."""

    def apply_arguments(self, args):
        """Use the options added by add_arguments(); may raise WorldError."""


def abort_connection(sock):
    """Close a connection with a TCP RST (SO_LINGER 0): the client sees
    'connection reset by peer'."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class EmulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120               # idle keep-alive / slow-client timeout (s)

    @property
    def emu(self):
        return self.server.emu

    # TLS handshake runs here, in the worker thread, so a client that never
    # completes it cannot block the accept loop.
    def setup(self):
        super().setup()
        with self.server.conns_lock:
            self.server.conns.add(self.connection)
        try:
            self._handshake()
        except BaseException:
            with self.server.conns_lock:
                self.server.conns.discard(self.connection)
            raise

    def _handshake(self):
        k = self.emu.knobs
        if self.client_address[0] in k.get("tls_exempt"):
            self.connection.do_handshake()
            return
        if k.take("tls_reset_count"):
            self.emu.stats.inc("faults_injected", "tls_reset")
            # Wait for the ClientHello: a reset before it reaches a client
            # still connecting, which then says "couldn't connect".
            try:
                self.connection.settimeout(5)
                socket.socket.recv(self.connection, 1, socket.MSG_PEEK)
            except OSError:
                pass
            abort_connection(self.connection)
            raise ConnectionAbortedError("injected TLS reset")
        pem = k.get("tls_cert")
        if pem:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(pem)
            self.connection.context = ctx
            self.emu.stats.inc("faults_injected", "tls_cert")
        self.connection.do_handshake()

    def finish(self):
        with self.server.conns_lock:
            self.server.conns.discard(self.connection)
        super().finish()

    def log_message(self, fmt, *args):
        if self.emu.verbose:
            sys.stderr.write("[%s] %s %s\n" % (self.emu.name, self.address_string(), fmt % args))

    def version_string(self):
        return self.emu.server_header

    def send_response(self, code, message=None):
        self.log_request(code)
        self.send_response_only(code, message)
        if self.emu.server_header:
            self.send_header("Server", self.emu.server_header)
        # The daemon measures clock skew from this header: use the shifted clock.
        self.send_header("Date", http_date(self.emu.now()))

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

    # --- body ------------------------------------------------------------
    def _read_body(self):
        """Body bytes, or None after answering 411/413/400 ourselves."""
        te = self.headers.get("Transfer-Encoding", "").lower()
        if te and te != "identity":
            if te != "chunked":
                self.close_connection = True
                self.reply(501, b"unsupported transfer-encoding\n", "text/plain")
                return None
            return self._read_chunked()
        cl = self.headers.get("Content-Length")
        if cl is None:
            return b""
        if not cl.isdigit():
            self.close_connection = True
            self.reply(400, b"bad Content-Length\n", "text/plain")
            return None
        n = int(cl)
        if n > MAX_BODY:
            self.close_connection = True
            self.reply(413, b"request body too large\n", "text/plain")
            return None
        return self.rfile.read(n)

    def _read_chunked(self):
        out = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                self.reply(400, b"bad chunk\n", "text/plain")
                return None
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            if len(out) + size > MAX_BODY:
                self.close_connection = True
                self.reply(413, b"request body too large\n", "text/plain")
                return None
            out += self.rfile.read(size)
            self.rfile.readline(8)

    # --- replies ----------------------------------------------------------
    def reply(self, status, body, ctype, headers=()):
        """Send a complete response (applies an injected truncation)."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        if getattr(self, "_truncate", False):
            body = body[: len(body) // 2]
            self.close_connection = True
            self.emu.stats.inc("faults_injected", "truncate")
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        if hasattr(self, "entry"):
            self.entry["status"] = status

    def reply_json(self, status, obj):
        self.reply(status, json.dumps(obj, indent=1, sort_keys=True) + "\n", "application/json")

    # --- dispatch ---------------------------------------------------------
    def _dispatch(self):
        # One handler object serves every request of a keep-alive connection.
        self._truncate = False
        self.entry = {}
        body = self._read_body()
        if body is None:
            return
        url = urlsplit(self.path)
        if url.path.startswith("/_emulator/"):
            self._control(url.path[len("/_emulator/"):], body)
            return
        emu = self.emu
        emu.stats.inc("requests")
        op = emu.classify(self, url, body)
        self.entry = {"time": iso_utc(emu.now(), millis=True), "method": self.command,
                      "path": url.path, "op": op}
        try:
            if not self._faults(op):
                emu.handle(self, url, body, op)
        finally:
            emu.requests.add(self.entry)

    def _faults(self, op):
        """Apply injected faults; True if the request has been dealt with."""
        emu, k = self.emu, self.emu.knobs
        ops = k.get("fault_ops")
        if ops and op not in ops:
            return False
        if k.take("drop_count"):
            emu.stats.inc("faults_injected", "drop")
            self.entry["fault"] = "drop"
            self.close_connection = True
            return True
        if k.take("reset_count"):
            emu.stats.inc("faults_injected", "reset")
            self.entry["fault"] = "reset"
            self.close_connection = True
            abort_connection(self.connection)
            return True
        if k.take("hang_count"):
            emu.stats.inc("faults_injected", "hang")
            self.entry["fault"] = "hang"
            time.sleep(k.get("hang_seconds"))
            self.close_connection = True
            return True
        delay = k.get("delay")
        if delay > 0 and k.take("delay_count"):
            emu.stats.inc("faults_injected", "delay")
            self.entry["fault"] = "delay"
            time.sleep(delay)
        status = k.get("fail_status")
        if status and k.take("fail_count"):
            emu.stats.inc("faults_injected", "fail")
            self.entry["fault"] = "fail"
            emu.fault_reply(self, status)
            return True
        if emu.extra_fault(self, op):
            return True
        self._truncate = k.take("truncate_count")
        return False

    def _control(self, name, body):
        emu = self.emu
        try:
            req = json.loads(body) if body.strip() else {}
        except ValueError:
            self.reply_json(400, {"error": "body is not JSON"})
            return
        if name == "stats" and self.command == "GET":
            self.reply_json(200, emu.stats.snapshot())
        elif name == "requests" and self.command == "GET":
            self.reply_json(200, emu.requests.list())
        elif name == "config" and self.command == "GET":
            self.reply_json(200, emu.knobs.snapshot())
        elif name == "config" and self.command == "POST":
            try:
                emu.knobs.merge(req)
            except ValueError as e:
                self.reply_json(400, {"error": str(e)})
                return
            self.reply_json(200, emu.knobs.snapshot())
        elif name == "disconnect" and self.command == "POST":
            # Close every other open connection (idle keep-alive ones
            # included), so that clients must connect and handshake again.
            with self.server.conns_lock:
                others = [c for c in self.server.conns if c is not self.connection]
            for c in others:
                try:
                    socket.socket.shutdown(c, socket.SHUT_RDWR)
                except OSError:
                    pass
            self.reply_json(200, {"closed": len(others)})
        elif name == "reset" and self.command == "POST":
            if not isinstance(req, dict):
                self.reply_json(400, {"error": "body must be a JSON object"})
                return
            if req.get("counters", True):
                emu.stats.reset()
                emu.requests.clear()
            if req.get("knobs"):
                emu.knobs.reset()
            if req.get("state"):
                emu.reset_state()
            self.reply_json(200, {"ok": True})
        elif emu.extra_control(self, name, req):
            pass
        else:
            self.reply_json(404, {"error": "unknown control endpoint %s %s" % (self.command, name)})


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, emu, ctx):
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.emu = emu
        self.conns = set()          # open connections (POST /_emulator/disconnect)
        self.conns_lock = threading.Lock()
        super().__init__(addr, EmulatorHandler)
        # Handshake deferred to the worker thread (EmulatorHandler.setup).
        self.socket = ctx.wrap_socket(self.socket, server_side=True,
                                      do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        # Clients that drop connections or fail TLS are normal in tests.
        if self.emu.verbose:
            super().handle_error(request, client_address)


def main(emu_cls, description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--world", required=True, help="world JSON file")
    p.add_argument("--cert", required=True, help="server certificate (PEM)")
    p.add_argument("--key", required=True, help="server private key (PEM)")
    p.add_argument("--port", type=int, default=0, help="TCP port (0 = ephemeral)")
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--time-offset", type=float, default=0.0,
                   help="seconds added to the emulator's clock")
    p.add_argument("--verbose", action="store_true", help="log requests to stderr")
    emu_cls.add_arguments(p)
    args = p.parse_args()
    try:
        world = load_world(args.world)
    except WorldError as e:
        sys.exit("%s: world: %s" % (emu_cls.name, e))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    emu = emu_cls(world, verbose=args.verbose, time_offset=args.time_offset)
    try:
        emu.apply_arguments(args)
    except WorldError as e:
        sys.exit("%s: world: %s" % (emu_cls.name, e))
    server = EmulatorServer((args.host, args.port), emu, ctx)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stdout.write("LISTENING %d\n" % server.server_address[1])
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.25)
    except SystemExit:
        pass
    finally:
        server.server_close()
    return 0
