#!/usr/bin/python3
"""AWS STS + IAM emulator for adfs-credd tests (PROTOCOLS.md C).

One HTTPS server answers the query protocol on POST / (or GET /?...),
dispatching on Action:
  AssumeRoleWithSAML (2011-06-15, unsigned)  validates like AWS, verifies the
                                             ADFS emulator's HMAC signature,
                                             issues ASIA... credentials
  GetCallerIdentity  (2011-06-15, SigV4 sts) needs credentials issued here
  GetRole            (2010-05-08, SigV4 iam) MaxSessionDuration, or AccessDenied
  UpdateRole         (2010-05-08, SigV4 iam) an administrator (world iam_users)
                                             sets MaxSessionDuration / Description
Callers sign with credentials issued here (ASIA..., with a session token) or
with an IAM user's long-term access key from the world (AKIA..., no token).
Error texts follow the real services (README.md lists each and its source).
Control endpoints and faults: README.md.

Usage: sts_emulator.py --world W.json --cert server.pem --key server.key
                       [--port 0] [--host 127.0.0.1] [--time-offset S] [--verbose]
"""

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import string
import sys
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, quote, unquote
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emucommon as ec  # noqa: E402

NS_STS = "https://sts.amazonaws.com/doc/2011-06-15/"
NS_IAM = "https://iam.amazonaws.com/doc/2010-05-08/"
V_STS, V_IAM = "2011-06-15", "2010-05-08"
NS = {"samlp": ec.NS_SAMLP, "saml": ec.NS_SAML}

# Model constraints (botocore sts/2011-06-15 and iam/2010-05-08 service-2.json).
ARN_PATTERN = re.compile(r"[\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]+")
ARN_PATTERN_TEXT = (r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD"
                    r"\u10000-\u10FFFF]+")
ROLE_NAME_RE = re.compile(r"[\w+=,.@-]{1,64}")
SESSION_NAME_RE = re.compile(r"[\w+=,.@-]{2,64}")
RECIPIENT_RE = re.compile(r"https://(?:[a-z0-9-]+\.)?signin\.aws\.amazon\.com/saml")
AUDIENCES = ("urn:amazon:webservices", ec.AWS_SAML_RECIPIENT)

MSG_SIG_MISMATCH = ("The request signature we calculated does not match the signature you "
                    "provided. Check your AWS Secret Access Key and signing method. Consult "
                    "the service documentation for details.")
MSG_BAD_TOKEN = "The security token included in the request is invalid"
MSG_EXPIRED_TOKEN = "The security token included in the request is expired"


def check_number(errs, field, value, lo, hi):
    """Appends to errs the ValidationError text AWS gives for an integer
    parameter outside lo..hi (nothing when value is None)."""
    if value is None:
        return
    head = "Value '%s' at '%s' failed to satisfy constraint: " % (value, field)
    if not re.fullmatch(r"[+-]?\d{1,18}", value.strip()):
        errs.append(head + "Member must be a number")   # emulator wording
    elif int(value) < lo:
        errs.append(head + "Member must have value greater than or equal to %d" % lo)
    elif int(value) > hi:
        errs.append(head + "Member must have value less than or equal to %d" % hi)


class ApiError(Exception):
    """An AWS error reply: HTTP status, Code, Message, Type."""

    def __init__(self, status, code, message, kind="Sender"):
        super().__init__(message)
        self.status, self.code, self.message, self.kind = status, code, message, kind


def _rand(alphabet, n):
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _xml(ns, root, body, request_id):
    """A query-protocol success document, pretty-printed like AWS's."""
    return ('<%s xmlns="%s">\n%s  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n'
            '  </ResponseMetadata>\n</%s>\n' % (root, ns, body, request_id, root))


class StsEmulator(ec.Emulator):
    name = "sts"
    extra_knobs = {
        "throttle_count": ((int,), 0),        # answer 400 Throttling "Rate exceeded"
        "role_overrides": ((dict,), {}),      # {"<role arn>": {"max_session_duration": N, "get_role": b}}
        "sigv4_max_skew": ((int, type(None)), None),
        "iam_signing_region": ((str, type(None)), None),   # "*" = any region
        "assertion_max_age": ((int, type(None)), None),
    }
    counters = ("assume_calls", "assume_ok", "credentials_issued", "get_caller_identity",
                "get_role", "update_role", "sigv4_failures")
    dict_counters = ("assume_errors", "errors")

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.reset_state()

    def reset_state(self):
        with self.lock:
            self.creds = {}   # AccessKeyId -> issued session

    def setting(self, name):
        v = self.knobs.get(name)
        return self.world["sts"][name] if v is None else v

    def role(self, arn):
        r = self.world["roles"].get(arn)
        if r is None:
            return None
        return {**r, **self.knobs.get("role_overrides").get(arn, {})}

    # --- dispatch -------------------------------------------------------------
    def params(self, h, url, body):
        """Query-protocol parameters from the query string and a form body."""
        if getattr(h, "params", None) is None:
            p = {}
            pairs = parse_qsl(url.query, keep_blank_values=True)
            ctype = h.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if h.command == "POST" and ctype in ("", "application/x-www-form-urlencoded"):
                pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            for k, v in pairs:
                p.setdefault(k, v)
            h.params = p
        return h.params

    def classify(self, h, url, body):
        h.params = None
        return self.params(h, url, body).get("Action") or "(none)"

    def handle(self, h, url, body, op):
        p = self.params(h, url, body)
        h.request_id = str(uuid.uuid4())
        action, version = p.get("Action"), p.get("Version")
        ns = NS_IAM if version == V_IAM or action in ("GetRole", "UpdateRole") else NS_STS
        try:
            if h.command not in ("GET", "POST"):
                raise ApiError(405, "InvalidAction", "Unsupported HTTP method %s" % h.command)
            if not action:
                raise ApiError(400, "MissingAction", "Missing Action")
            table = {("AssumeRoleWithSAML", V_STS): self.assume_role_with_saml,
                     ("GetCallerIdentity", V_STS): self.get_caller_identity,
                     ("GetRole", V_IAM): self.get_role,
                     ("UpdateRole", V_IAM): self.update_role}
            fn = table.get((action, version))
            if fn is None:
                raise ApiError(400, "InvalidAction", "Could not find operation %s for version %s"
                               % (action, version or "NO_VERSION_SPECIFIED"))
            fn(h, p, body)
        except ApiError as err:
            self.stats.inc("errors", err.code)
            h.entry.update(code=err.code, message=err.message)
            self.send_error(h, err, ns)

    def send_error(self, h, err, ns):
        doc = ('<ErrorResponse xmlns="%s">\n  <Error>\n    <Type>%s</Type>\n    <Code>%s</Code>\n'
               '    <Message>%s</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n'
               '</ErrorResponse>\n' % (ns, err.kind, escape(err.code), escape(err.message),
                                       getattr(h, "request_id", None) or uuid.uuid4()))
        h.reply(err.status, doc, "text/xml",
                (("x-amzn-RequestId", getattr(h, "request_id", "")),))

    def send_ok(self, h, doc):
        h.reply(200, doc, "text/xml", (("x-amzn-RequestId", h.request_id),))

    def _ns_for(self, h):
        p = getattr(h, "params", None) or {}
        return NS_IAM if p.get("Version") == V_IAM or p.get("Action") in ("GetRole", "UpdateRole") \
            else NS_STS

    def fault_reply(self, h, status):
        k = self.knobs.snapshot()
        h.request_id = str(uuid.uuid4())
        if self.custom_fault(h, status, "text/xml", (("x-amzn-RequestId", h.request_id),)):
            return
        defaults = {500: ("InternalFailure", "The request processing has failed because of an "
                          "unknown error, exception or failure."),
                    503: ("ServiceUnavailable", "Service is unable to handle request."),
                    429: ("Throttling", "Rate exceeded"),
                    403: ("AccessDenied", "Access denied"),
                    400: ("InvalidParameterValue", "Invalid request")}
        code, msg = defaults.get(status, ("InternalFailure" if status >= 500 else "InvalidRequest",
                                          "Injected failure"))
        err = ApiError(status, k["fail_code"] or code, k["fail_message"] or msg,
                       "Receiver" if status >= 500 else "Sender")
        h.entry.update(code=err.code)
        self.send_error(h, err, self._ns_for(h))

    def extra_fault(self, h, op):
        if not self.knobs.take("throttle_count"):
            return False
        self.stats.inc("faults_injected", "throttle")
        h.entry.update(fault="throttle", code="Throttling")
        h.request_id = str(uuid.uuid4())
        self.send_error(h, ApiError(400, "Throttling", "Rate exceeded"), self._ns_for(h))
        return True

    # --- AssumeRoleWithSAML ---------------------------------------------------
    def assume_role_with_saml(self, h, p, body):
        self.stats.inc("assume_calls")
        h.entry.update(role_arn=p.get("RoleArn"), principal_arn=p.get("PrincipalArn"),
                       duration_seconds=p.get("DurationSeconds"),
                       saml_assertion_len=len(p.get("SAMLAssertion") or ""))
        try:
            doc = self._assume(p)
        except ApiError as err:
            self.stats.inc("assume_errors", err.code)
            raise
        self.stats.inc("assume_ok")
        self.send_ok(h, _xml(NS_STS, "AssumeRoleWithSAMLResponse", doc, h.request_id))

    @staticmethod
    def _validate(p):
        """Model constraints -> AWS's 'N validation error(s) detected: ...'."""
        errs = []

        def check(member, name, lo, hi, pattern=None):
            v = p.get(name)
            if v is None:
                errs.append("Value null at '%s' failed to satisfy constraint: "
                            "Member must not be null" % member)
                return
            head = "Value '%s' at '%s' failed to satisfy constraint: " % (v, member)
            if pattern is not None and not pattern.fullmatch(v):
                errs.append(head + "Member must satisfy regular expression pattern: "
                            + ARN_PATTERN_TEXT)
            if len(v) < lo:
                errs.append(head + "Member must have length greater than or equal to %d" % lo)
            if len(v) > hi:
                errs.append(head + "Member must have length less than or equal to %d" % hi)

        check("roleArn", "RoleArn", 20, 2048, ARN_PATTERN)
        check("principalArn", "PrincipalArn", 20, 2048, ARN_PATTERN)
        check("sAMLAssertion", "SAMLAssertion", 4, 100000)
        if "Policy" in p:
            check("policy", "Policy", 1, 2048)
        check_number(errs, "durationSeconds", p.get("DurationSeconds"), 900, 43200)
        if errs:
            raise ApiError(400, "ValidationError", "%d validation error%s detected: %s"
                           % (len(errs), "" if len(errs) == 1 else "s", "; ".join(errs)))

    def _assume(self, p):
        self._validate(p)
        now = self.now()
        bad = lambda msg: ApiError(400, "InvalidIdentityToken", msg)  # noqa: E731
        expired = lambda msg: ApiError(400, "ExpiredTokenException", msg)  # noqa: E731
        role_arn, principal_arn = p["RoleArn"], p["PrincipalArn"]

        # 1. Decode and parse.  Only CR/LF are tolerated inside the base64: a
        #    '+' sent without URL-encoding arrives as ' ' and is rejected.
        try:
            raw = base64.b64decode(p["SAMLAssertion"].replace("\r", "").replace("\n", ""),
                                   validate=True)
        except ValueError:
            raise bad("Invalid base64 SAMLResponse") from None
        if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
            raise bad("SAML response must not contain a DTD")
        try:
            root = ET.fromstring(raw)
        except ET.ParseError:
            raise bad("SAML response is not well-formed XML") from None
        if root.tag != "{%s}Response" % ec.NS_SAMLP:
            raise bad("SAML response is not a samlp:Response")
        assertions = root.findall("saml:Assertion", NS)
        if len(assertions) != 1:
            raise bad("SAML response must contain exactly one Assertion")
        a = assertions[0]

        # 2. Provider, signature, issuer, status.
        provider = self.world["providers"].get(principal_arn)
        if provider is None:
            raise bad("Specified provider doesn't exist")
        reason = ec.saml_verify(raw, self.world["saml"]["hmac_key"])
        if reason:
            self.log("signature check failed: %s", reason)
            raise bad("Response signature invalid")
        issuer = (a.findtext("saml:Issuer", "", NS)).strip()
        if issuer != provider["issuer"]:
            raise bad("Issuer not present in specified provider")
        code = root.find("samlp:Status/samlp:StatusCode", NS)
        if code is None or code.get("Value") != "urn:oasis:names:tc:SAML:2.0:status:Success":
            raise bad("SAML response status is not Success")

        # 3. Time checks (this emulator's clock).
        max_age = self.setting("assertion_max_age")
        try:
            issued = ec.parse_iso(a.get("IssueInstant", ""))
        except ValueError:
            raise bad("Assertion IssueInstant is missing or invalid") from None
        if now - issued > max_age:
            raise expired("Token must be redeemed within 5 minutes of issuance")
        if issued - now > max_age:
            raise bad("Assertion IssueInstant is in the future")
        confs = a.findall("saml:Subject/saml:SubjectConfirmation", NS)
        data = confs[0].find("saml:SubjectConfirmationData", NS) if len(confs) == 1 else None
        if data is None or not data.get("NotOnOrAfter") or not data.get("Recipient"):
            raise bad("Assertion must have exactly one SubjectConfirmation whose "
                      "SubjectConfirmationData has NotOnOrAfter and Recipient")
        recipient = data.get("Recipient")
        if not RECIPIENT_RE.fullmatch(recipient):
            raise bad("Invalid Recipient in SubjectConfirmationData")
        cond = a.find("saml:Conditions", NS)
        try:
            limits = [ec.parse_iso(data.get("NotOnOrAfter"))]
            if cond is not None and cond.get("NotOnOrAfter"):
                limits.append(ec.parse_iso(cond.get("NotOnOrAfter")))
            not_before = ec.parse_iso(cond.get("NotBefore")) \
                if cond is not None and cond.get("NotBefore") else None
        except ValueError:
            raise bad("Assertion contains an invalid timestamp") from None
        if now >= min(limits):
            raise expired("Response has expired")
        if not_before is not None and not_before - now > max_age:
            raise bad("Assertion is not yet valid")
        audiences = [x.text.strip() for x in a.iterfind(
            "saml:Conditions/saml:AudienceRestriction/saml:Audience", NS) if x.text]
        if audiences and not set(audiences) & set(AUDIENCES):
            raise bad("Audience restriction does not allow AWS")

        # 4. Attributes: Role pairs (either order), RoleSessionName, SessionDuration.
        def values(name):
            return [(v.text or "") for at in a.iterfind("saml:AttributeStatement/saml:Attribute", NS)
                    if at.get("Name") == name for v in at.findall("saml:AttributeValue", NS)]

        pairs = set()
        for v in values(ec.ATTR_ROLE):
            parts = [x.strip() for x in v.split(",")]
            if len(parts) == 2:
                r = [x for x in parts if ":role/" in x]
                pr = [x for x in parts if ":saml-provider/" in x]
                if len(r) == 1 and len(pr) == 1:
                    pairs.add((r[0], pr[0]))
        role = self.role(role_arn)
        if (role_arn, principal_arn) not in pairs or role is None \
                or role["provider"] != principal_arn:
            raise ApiError(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithSAML")
        names = values(ec.ATTR_SESSION_NAME)
        if len(names) != 1 or not SESSION_NAME_RE.fullmatch(names[0].strip()):
            raise bad("RoleSessionName attribute is missing or invalid")
        session_name = names[0].strip()
        sd = values(ec.ATTR_SESSION_DURATION)
        if sd and not (sd[0].strip().isdigit() and 900 <= int(sd[0]) <= 43200):
            raise bad("SessionDuration attribute is invalid")

        # 5. Duration and expiry.
        duration = int(p.get("DurationSeconds") or 3600)
        if duration > role["max_session_duration"]:
            raise ApiError(400, "ValidationError", "The requested DurationSeconds exceeds the "
                           "MaxSessionDuration set for this role.")
        expiry = now + duration
        if sd:
            expiry = min(expiry, now + int(sd[0]))
        authn = a.find("saml:AuthnStatement", NS)
        if authn is not None and authn.get("SessionNotOnOrAfter"):
            try:
                expiry = min(expiry, ec.parse_iso(authn.get("SessionNotOnOrAfter")))
            except ValueError:
                raise bad("Assertion contains an invalid timestamp") from None
            if expiry <= now:
                raise expired("Response has expired")
        expiry = int(expiry)

        # 6. Issue.
        account, role_name = role["account"], role["name"]
        akid = "ASIA" + _rand(string.ascii_uppercase + string.digits, 16)
        secret = _rand(string.ascii_letters + string.digits + "+/", 40)
        token = "IQoJb3JpZ2luX2VjE" + base64.b64encode(
            os.urandom(self.world["sts"]["session_token_bytes"])).decode()
        assumed_arn = "arn:aws:sts::%s:assumed-role/%s/%s" % (account, role_name, session_name)
        assumed_id = "%s:%s" % (role["role_id"], session_name)
        with self.lock:
            self.creds[akid] = {"secret": secret, "token": token, "expires": expiry,
                                "role_arn": role_arn, "account": account,
                                "arn": assumed_arn, "user_id": assumed_id}
        self.stats.inc("credentials_issued")
        name_id = a.find("saml:Subject/saml:NameID", NS)
        fmt = (name_id.get("Format") if name_id is not None else None) or "unspecified"
        for prefix in ("urn:oasis:names:tc:SAML:2.0:nameid-format:",
                       "urn:oasis:names:tc:SAML:1.1:nameid-format:"):
            fmt = fmt[len(prefix):] if fmt.startswith(prefix) else fmt
        provider_name = ec.PROVIDER_ARN_RE.match(principal_arn).group(2)
        qualifier = base64.b64encode(hashlib.sha1(
            (issuer + ec.PROVIDER_ARN_RE.match(principal_arn).group(1) + "/"
             + provider_name).encode()).digest()).decode()
        x = escape
        # Element order as in AWS's documented example reply.
        doc = ("  <AssumeRoleWithSAMLResult>\n"
               "    <Issuer>%s</Issuer>\n"
               "    <AssumedRoleUser>\n      <Arn>%s</Arn>\n      <AssumedRoleId>%s</AssumedRoleId>\n"
               "    </AssumedRoleUser>\n"
               "    <Credentials>\n      <AccessKeyId>%s</AccessKeyId>\n"
               "      <SecretAccessKey>%s</SecretAccessKey>\n      <SessionToken>%s</SessionToken>\n"
               "      <Expiration>%s</Expiration>\n    </Credentials>\n"
               "    <Audience>%s</Audience>\n    <SubjectType>%s</SubjectType>\n"
               % (x(issuer), x(assumed_arn), x(assumed_id), akid, x(secret), x(token),
                  ec.iso_utc(expiry), x(recipient), x(fmt)))
        if "Policy" in p:
            doc += "    <PackedPolicySize>%d</PackedPolicySize>\n" % min(100, len(p["Policy"]) // 20 + 1)
        doc += "    <NameQualifier>%s</NameQualifier>\n" % qualifier
        src = values(ec.ATTR_SOURCE_IDENTITY)
        if src:
            doc += "    <SourceIdentity>%s</SourceIdentity>\n" % x(src[0])
        doc += ("    <Subject>%s</Subject>\n  </AssumeRoleWithSAMLResult>\n"
                % x((name_id.text or "") if name_id is not None else ""))
        return doc

    # --- SigV4 ----------------------------------------------------------------
    def sigv4(self, h, body, service):
        """Verify the request's SigV4 signature; returns the issued session."""
        try:
            return self._sigv4(h, body, service)
        except ApiError:
            self.stats.inc("sigv4_failures")
            raise

    def _sigv4(self, h, body, service):
        auth = h.headers.get("Authorization")
        if not auth:
            raise ApiError(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
        alg, _, rest = auth.strip().partition(" ")
        if alg != "AWS4-HMAC-SHA256":
            raise ApiError(400, "IncompleteSignature", "Unsupported AWS 'algorithm': '%s'" % alg)
        fields = {}
        for part in rest.split(","):
            k, sep, v = part.strip().partition("=")
            if not sep:
                raise ApiError(400, "IncompleteSignature",
                               "'%s' not a valid key=value pair (missing equal-sign) in "
                               "Authorization header: '%s'." % (part.strip(), auth))
            fields[k] = v
        amzdate = h.headers.get("X-Amz-Date")
        missing = ["Authorization header requires '%s' parameter." % k
                   for k in ("Credential", "Signature", "SignedHeaders") if k not in fields]
        if not amzdate:
            missing.append("Authorization header requires existence of either a 'X-Amz-Date' "
                           "or a 'Date' header.")
        scope = fields.get("Credential", "").split("/")
        if not missing and len(scope) != 5:
            missing.append("Credential must have exactly 5 slash-delimited elements, e.g. "
                           "keyid/date/region/service/term, got '%s'" % fields["Credential"])
        if missing:
            raise ApiError(400, "IncompleteSignature", " ".join(missing) + " Authorization=" + auth)
        akid, date, region, svc, term = scope
        try:
            if not re.fullmatch(r"\d{8}T\d{6}Z", amzdate):
                raise ValueError
            req_time = ec.parse_iso("%s-%s-%sT%s:%s:%sZ" % (
                amzdate[0:4], amzdate[4:6], amzdate[6:8], amzdate[9:11], amzdate[11:13], amzdate[13:15]))
        except ValueError:
            raise ApiError(400, "IncompleteSignature", "Date must be in ISO-8601 'basic format'. "
                           "Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601" % amzdate) from None

        # Clock skew (AWS's wording; STS and IAM allow 15 minutes).
        now = self.now()
        skew = self.setting("sigv4_max_skew")
        mins = "%g min." % (skew / 60)
        if req_time < now - skew:
            raise ApiError(403, "SignatureDoesNotMatch", "Signature expired: %s is now earlier "
                           "than %s (%s - %s)" % (amzdate, ec.amz_date(now - skew),
                                                  ec.amz_date(now), mins))
        if req_time > now + skew:
            raise ApiError(403, "SignatureDoesNotMatch", "Signature not yet current: %s is still "
                           "later than %s (%s + %s)" % (amzdate, ec.amz_date(now + skew),
                                                        ec.amz_date(now), mins))

        # Key, session token, expiry.  A long-term key (an IAM user of the
        # world) signs without a session token; sending one is refused.
        with self.lock:
            cred = self.creds.get(akid)
        token = h.headers.get("X-Amz-Security-Token")
        if cred is None:
            cred = self.iam_user(akid)
            if cred is None or token is not None:
                raise ApiError(403, "InvalidClientTokenId", MSG_BAD_TOKEN)
        elif token is None or not hmac.compare_digest(token.encode(), cred["token"].encode()):
            raise ApiError(403, "InvalidClientTokenId", MSG_BAD_TOKEN)
        elif now >= cred["expires"]:
            raise ApiError(403, "ExpiredToken", MSG_EXPIRED_TOKEN)

        # Credential scope.
        if date != amzdate[:8]:
            raise ApiError(403, "SignatureDoesNotMatch", "Date in Credential scope does not match "
                           "YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from "
                           "'%s'." % (date, amzdate[:8], amzdate))
        if svc != service:
            raise ApiError(403, "SignatureDoesNotMatch",
                           "Credential should be scoped to correct service: '%s'. " % service)
        want_region = self.setting("iam_signing_region") if service == "iam" else "*"
        if want_region not in ("*", "") and region != want_region:
            raise ApiError(403, "SignatureDoesNotMatch",
                           "Credential should be scoped to a valid region, not '%s'. " % region)
        if term != "aws4_request":
            raise ApiError(403, "SignatureDoesNotMatch", "Credential should be scoped with a valid "
                           "terminator: 'aws4_request', not '%s'." % term)

        # Recompute: canonical request -> string to sign -> signature.
        signed = fields["SignedHeaders"]
        names = signed.split(";")
        if "host" not in names:
            raise ApiError(403, "SignatureDoesNotMatch", MSG_SIG_MISMATCH)
        canon_headers = ""
        for n in names:
            vals = h.headers.get_all(n) or []
            canon_headers += "%s:%s\n" % (n, ",".join(" ".join(v.split()) for v in vals))
        raw_path, _, raw_query = h.path.partition("?")
        pairs = []
        for item in raw_query.split("&") if raw_query else []:
            k, _, v = item.partition("=")
            pairs.append((quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~")))
        canonical = "\n".join([h.command, quote(raw_path or "/", safe="/~"),
                               "&".join("%s=%s" % kv for kv in sorted(pairs)),
                               canon_headers, signed, hashlib.sha256(body).hexdigest()])
        string_to_sign = "\n".join(["AWS4-HMAC-SHA256", amzdate, "/".join(scope[1:]),
                                    hashlib.sha256(canonical.encode()).hexdigest()])
        key = ("AWS4" + cred["secret"]).encode()
        for piece in (date, region, svc, term):
            key = hmac.new(key, piece.encode(), hashlib.sha256).digest()
        want = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, fields["Signature"]):
            self.log("SigV4 mismatch; canonical request was:\n%s", canonical)
            raise ApiError(403, "SignatureDoesNotMatch", MSG_SIG_MISMATCH)
        return cred

    def iam_user(self, akid):
        """The world's IAM user with this access key, as a caller record."""
        for arn, u in self.world["iam_users"].items():
            if hmac.compare_digest(u["access_key_id"], akid):
                return {"secret": u["secret_access_key"], "arn": arn, "account": u["account"],
                        "user_id": u["user_id"], "role_arn": None, "admin": u["admin"]}
        return None

    @staticmethod
    def authorize(c, action, name, allowed):
        """AccessDenied as IAM words it, for a caller not allowed action."""
        if not allowed:
            raise ApiError(403, "AccessDenied", "User: %s is not authorized to perform: iam:%s "
                           "on resource: role %s because no identity-based policy allows the "
                           "iam:%s action" % (c["arn"], action, name, action))

    def find_role(self, c, name):
        """The ARN of the caller's account's role called name (IAM role names
        are case-insensitive), or 404 NoSuchEntity."""
        arn = next((a for a, r in self.world["roles"].items()
                    if r["account"] == c["account"] and r["name"].lower() == name.lower()), None)
        if arn is None:
            raise ApiError(404, "NoSuchEntity", "The role with name %s cannot be found." % name)
        return arn

    # --- GetCallerIdentity / GetRole / UpdateRole ---------------------------------
    def get_caller_identity(self, h, p, body):
        self.stats.inc("get_caller_identity")
        c = self.sigv4(h, body, "sts")
        h.entry["caller"] = c["arn"]
        doc = ("  <GetCallerIdentityResult>\n    <Arn>%s</Arn>\n    <UserId>%s</UserId>\n"
               "    <Account>%s</Account>\n  </GetCallerIdentityResult>\n"
               % (escape(c["arn"]), escape(c["user_id"]), c["account"]))
        self.send_ok(h, _xml(NS_STS, "GetCallerIdentityResponse", doc, h.request_id))

    def get_role(self, h, p, body):
        self.stats.inc("get_role")
        c = self.sigv4(h, body, "iam")
        name = p.get("RoleName")
        h.entry.update(caller=c["arn"], role_name=name)
        if name is None:
            raise ApiError(400, "ValidationError", "1 validation error detected: Value null at "
                           "'roleName' failed to satisfy constraint: Member must not be null")
        if not ROLE_NAME_RE.fullmatch(name):
            raise ApiError(400, "ValidationError", "1 validation error detected: Value '%s' at "
                           "'roleName' failed to satisfy constraint: Member must satisfy regular "
                           "expression pattern: [\\w+=,.@-]+" % name)
        caller_role = self.role(c["role_arn"]) if c["role_arn"] else None
        self.authorize(c, "GetRole", name,
                       c.get("admin") or (caller_role and caller_role["get_role"]))
        arn = self.find_role(c, name)
        r = self.role(arn)
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Federated": r["provider"]},
            "Action": "sts:AssumeRoleWithSAML",
            "Condition": {"StringEquals": {"SAML:aud": ec.AWS_SAML_RECIPIENT}}}]}
        doc = ("  <GetRoleResult>\n    <Role>\n      <Path>%s</Path>\n"
               "      <AssumeRolePolicyDocument>%s</AssumeRolePolicyDocument>\n"
               "      <MaxSessionDuration>%d</MaxSessionDuration>\n      <RoleId>%s</RoleId>\n"
               "      <RoleLastUsed/>\n      <RoleName>%s</RoleName>\n      <Arn>%s</Arn>\n"
               "      <CreateDate>%s</CreateDate>\n    </Role>\n  </GetRoleResult>\n"
               % (escape(r["path"]), quote(json.dumps(trust, separators=(",", ":")), safe=""),
                  r["max_session_duration"], r["role_id"], escape(r["name"]), escape(arn),
                  r["create_date"]))
        desc = r.get("description")
        if desc is not None:
            doc = doc.replace("      <MaxSessionDuration>", "      <Description>%s</Description>\n"
                              "      <MaxSessionDuration>" % escape(desc), 1)
        self.send_ok(h, _xml(NS_IAM, "GetRoleResponse", doc, h.request_id))

    def update_role(self, h, p, body):
        """IAM UpdateRole (2010-05-08): an administrator changes a role's
        MaxSessionDuration and/or Description.  The change is a
        role_overrides knob, so GetRole and AssumeRoleWithSAML see it at once
        and /_emulator/reset {"knobs": true} undoes it."""
        self.stats.inc("update_role")
        c = self.sigv4(h, body, "iam")
        name, msd, desc = p.get("RoleName"), p.get("MaxSessionDuration"), p.get("Description")
        h.entry.update(caller=c["arn"], role_name=name, max_session_duration=msd)
        # Model constraints (iam service-2.json UpdateRoleRequest), all
        # reported at once like AWS's "N validation errors detected".
        errs = []
        if name is None:
            errs.append("Value null at 'roleName' failed to satisfy constraint: "
                        "Member must not be null")
        else:
            head = "Value '%s' at 'roleName' failed to satisfy constraint: " % name
            if not re.fullmatch(r"[\w+=,.@-]*", name):
                errs.append(head + "Member must satisfy regular expression pattern: [\\w+=,.@-]+")
            if len(name) < 1:
                errs.append(head + "Member must have length greater than or equal to 1")
            if len(name) > 64:
                errs.append(head + "Member must have length less than or equal to 64")
        check_number(errs, "maxSessionDuration", msd, 3600, 43200)
        if desc is not None and len(desc) > 1000:
            errs.append("Value '%s' at 'description' failed to satisfy constraint: Member must "
                        "have length less than or equal to 1000" % desc)
        if errs:
            raise ApiError(400, "ValidationError", "%d validation error%s detected: %s"
                           % (len(errs), "" if len(errs) == 1 else "s", "; ".join(errs)))
        self.authorize(c, "UpdateRole", name, c.get("admin"))
        arn = self.find_role(c, name)
        change = {}
        if msd is not None:
            change["max_session_duration"] = int(msd)
        if desc is not None:
            change["description"] = desc
        if change:
            with self.lock:
                cur = self.knobs.get("role_overrides").get(arn, {})
                self.knobs.merge({"role_overrides": {arn: {**cur, **change}}})
        self.log("UpdateRole %s by %s: %s", arn, c["arn"], change)
        self.send_ok(h, _xml(NS_IAM, "UpdateRoleResponse", "  <UpdateRoleResult/>\n",
                             h.request_id))


if __name__ == "__main__":
    sys.exit(ec.main(StsEmulator, "AWS STS AssumeRoleWithSAML + IAM GetRole/UpdateRole emulator"))
