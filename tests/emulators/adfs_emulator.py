#!/usr/bin/python3
"""AD FS 2016+ emulator for adfs-credd tests.

Serves /adfs/ls/IdpInitiatedSignOn.aspx like AD FS (PROTOCOLS.md D1-D5):
  GET  without a valid SSO cookie  -> 200 login page (form#loginForm), or,
                                      for a WIA user agent with adfs.wia on,
                                      302 to /adfs/ls/wia
  POST UserName/Password           -> 302 back to the same URL + MSIS cookies,
                                      or the login page again with errorText
  (POST Context [+VerificationCode]-> second factor, for users with "mfa":
                                      OTP code, or Azure MFA push polling)
  GET  with a valid MSISAuth       -> 200 auto-post page holding SAMLResponse
  GET  /adfs/ls/wia                -> 401 Negotiate; with a Kerberos ticket
                                      (checked with python3-gssapi) 302 back
                                      + the same MSIS cookies
  POST /adfs/services/trust/13/usernamemixed
                                   -> WS-Trust 1.3 RSTR with the signed
                                      Assertion, or a SOAP 1.2 fault
The Assertion carries an emulator-only HMAC signature (emucommon.py) that
sts_emulator.py verifies.  Control endpoints and faults: README.md.

Usage: adfs_emulator.py --world W.json --cert server.pem --key server.key
                        [--port 0] [--host 127.0.0.1] [--time-offset S] [--verbose]
                        [--keytab FILE]
"""

import base64
import collections
import html
import importlib.util
import os
import re
import secrets
import sys
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from urllib.parse import parse_qs, quote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emucommon as ec  # noqa: E402

ISSUED_KEEP = 100   # secrets kept per kind for GET /_emulator/issued
SIGNON_PATHS = ("/adfs/ls/idpinitiatedsignon.aspx", "/adfs/ls/idpinitiatedsignon")
WIA_PATHS = ("/adfs/ls/wia", "/adfs/ls/wia/")
WSTRUST_PATH = "/adfs/services/trust/13/usernamemixed"
COOKIE_ATTRS = "path=/adfs; secure; HttpOnly"
AUTHN_PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
AUTHN_WINDOWS = "urn:federation:authentication:windows"

# Texts shown by AD FS (the first three come from its LoginErrors script).
ERR_BAD_PASSWORD = ("Incorrect user ID or password. Type the correct user ID and "
                    "password, and try again.")
ERR_USER_FORMAT = 'Enter your user ID in the format "domain\\user" or "user@domain".'
ERR_NO_PASSWORD = "Enter your password."
# Emulator wording (not verified against a live AD FS):
ERR_MFA_CODE = "The verification code you entered is incorrect. Try again."
ERR_MFA_CONTEXT = "Your sign-in session has expired. Sign in again."
ERR_MFA_DENIED = "The request was denied"
MFA_PUSH_TEXT = ("We've sent a notification to your mobile device. "
                 "Please respond to continue.")
MFA_NUMBER_TEXT = "Open your Authenticator app, and enter the number shown to sign in."
MSG_GENERIC = "An error occurred. Contact your administrator for more information."
MSG_NOT_AVAILABLE = ("The resource you are trying to access is not available. "
                     "Contact your administrator for more information.")
MSIS7012 = ("MSIS7012: An error occurred while processing the request. "
            "Contact your administrator for details.")
MSIS7007 = "MSIS7007: The requested relying party trust '%s' is unspecified or unsupported."
MSIS7042 = ("MSIS7042: The same client browser session has made '%d' requests in the "
            "last '%d' seconds. Contact your administrator for details.")

# WS-Trust 1.3 over SOAP 1.2 (PROTOCOLS.md D4).
NS_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS_WSA = "http://www.w3.org/2005/08/addressing"
NS_WSA_2004 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
NS_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
NS_TRUST = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
NS_WSP = "http://schemas.xmlsoap.org/ws/2004/09/policy"
WST_ISSUE_ACTION = NS_TRUST + "/RST/Issue"
WST_FINAL_ACTION = NS_TRUST + "/RSTRC/IssueFinal"
WST_ISSUE = NS_TRUST + "/Issue"
WST_BEARER = NS_TRUST + "/Bearer"
SAML2_TOKEN_TYPES = ("urn:oasis:names:tc:SAML:2.0:assertion",
                     "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0")
WS_NS = {"s": NS_SOAP12, "a": NS_WSA, "o": NS_WSSE, "u": NS_WSU, "t": NS_TRUST,
         "wsp": NS_WSP}
# Fault texts.  ID3242 and ID3082 are what AD FS (WIF) answers [O]; the
# WCF ones are WCF's standard texts; MSIS7068 is AD FS's "Access denied."
WST_BAD_CREDENTIALS = "ID3242: The security token could not be authenticated or authorized."
WST_BAD_SCOPE = "ID3082: The request scope is not valid or is unsupported."
WST_BAD_REQUEST = "ID3035: The request was not valid or is malformed."
WST_ACCESS_DENIED = "MSIS7068: Access denied."
WCF_INVALID_SECURITY = "An error occurred when verifying security for the message."
WCF_ACTION = ("The message with Action '%s' cannot be processed at the receiver, due to a "
              "ContractFilter mismatch at the EndpointDispatcher. This may be because of either "
              "a contract mismatch (mismatched Actions between sender and receiver) or a "
              "binding/security mismatch between the sender and the receiver.  Check that "
              "sender and receiver have the same contract and the same binding (including "
              "security requirements, e.g. Message, Transport, None).")
WCF_TO = ("The message with To '%s' cannot be processed at the receiver, due to an "
          "AddressFilter mismatch at the EndpointDispatcher.  Check that the sender and "
          "receiver's EndpointAddresses agree.")
WCF_CONTENT_TYPE = ("Cannot process the message because the content type '%s' was not the "
                    "expected type 'application/soap+xml; charset=utf-8'.")
SOAP_CTYPE = "application/soap+xml; charset=utf-8"
TIMESTAMP_SKEW = 300        # WCF's default maxClockSkew (5 min)

HTML_HEADERS = (("Cache-Control", "no-store"), ("Pragma", "no-cache"), ("Expires", "-1"),
                ("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"))
CTYPE = "text/html; charset=utf-8"

e = html.escape


def _head(title, company):
    return """<!DOCTYPE html>
<html lang="en-US">
<head>
    <meta http-equiv="X-UA-Compatible" content="IE=edge"/>
    <meta name="viewport" content="width=device-width, initial-scale=1.0, maximum-scale=2.0, user-scalable=yes"/>
    <meta http-equiv="content-type" content="text/html;charset=UTF-8" />
    <meta http-equiv="cache-control" content="no-cache,no-store"/>
    <meta http-equiv="pragma" content="no-cache"/>
    <meta http-equiv="expires" content="-1"/>
    <meta name='mswebdialog-title' content='Connecting to %(c)s'/>
    <title>%(t)s</title>
    <script type='text/javascript'>
//<![CDATA[
function LoginErrors(){this.userNameFormatError = 'Enter your user ID in the format \\u0026quot;domain\\\\user\\u0026quot; or \\u0026quot;user@domain\\u0026quot;.'; this.passwordEmpty = 'Enter your password.'; this.passwordTooLong = 'Password must be shorter than 128 characters.';}; var maxPasswordLength = 128;
//]]>
</script>
<script type='text/javascript'>
//<![CDATA[
// Decoy for regex "parsers": markup inside a script is not markup.
var Login = { userNameInput: 'UserName', passwordInput: 'Password',
  template: '<form id="loginForm" action="/adfs/decoy"><input name="AuthMethod" value="Decoy" /></form>',
  submitLoginRequest: function () { document.forms['loginForm'].submit(); return false; } };
//]]>
</script>
    <link rel="stylesheet" type="text/css" href="/adfs/portal/css/style.css?id=D74D4D6D3A8A4B0A9C1B" />
</head>
<body dir="ltr" class="body">
<div id="noScript" style="position:static; width:100%%; height:100%%; z-index:100">
    <h1>JavaScript required</h1>
    <p>JavaScript is required. This web browser does not support JavaScript or JavaScript in this web browser is not enabled.</p>
    <p>To find out if your web browser supports JavaScript or to enable JavaScript, see web browser help.</p>
</div>
<script type="text/javascript" language="JavaScript">
//<![CDATA[
document.getElementById("noScript").style.display = "none";
//]]>
</script>
<div id="fullPage">
    <div id="brandingWrapper" class="float"><div id="branding"></div></div>
    <div id="contentWrapper" class="float">
        <div id="content">
            <div id="header">
                <img class='logoImage' id='companyLogo' src='/adfs/portal/logo/logo.png?id=5A1B' alt='%(c)s'/>
            </div>
            <main>
            <div id="workArea">
""" % {"t": e(title), "c": e(company)}


_FOOT = """            </div>
            </main>
        </div>
        <div id="footerPlaceholder"></div>
    </div>
    <div id="footer">
        <div id="footerLinks" class="floatReverse">
            <div><span id="copyright">&#169; 2016 Microsoft</span><a id="helpDeskLink" href="#">Help</a></div>
        </div>
    </div>
</div>
</body>
</html>
"""


def _error_div(tag, text):
    return ('<div id="error" class="fieldMargin error smallText">'
            '<%s id="errorText" for="">%s</%s></div>' % (tag, e(text), tag))


def _form_open(action):
    return ('<form method="post" id="loginForm" autocomplete="off" novalidate="novalidate" '
            'onKeyPress="if (event &amp;&amp; event.keyCode == 13) Login.submitLoginRequest();" '
            'action="%s" >' % e(action))


class AdfsEmulator(ec.Emulator):
    name = "adfs"
    server_header = "Microsoft-HTTPAPI/2.0"
    # Knobs overriding world.adfs settings (null = use the world's value).
    extra_knobs = {
        "sso_lifetime": ((int, type(None)), None),
        "token_lifetime": ((int, type(None)), None),
        "confirmation_lifetime": ((int, type(None)), None),
        "idp_initiated_signon": ((bool, type(None)), None),
        "loop_detection": ((bool, type(None)), None),
        "user_overrides": ((dict,), {}),   # {"EXAMPLE\\alice": {"password": "new"}}
        "wia_enabled": ((bool, type(None)), None),      # override adfs.wia.enabled
        "wia_mutual": ((bool,), True),     # send the acceptor's mutual-auth token
        "wstrust_enabled": ((bool, type(None)), None),  # override adfs.wstrust_enabled
        "wstrust_recipient": ((bool,), True),  # False: WS-Trust assertions lack Recipient
    }
    counters = ("login_page_gets", "password_posts", "password_failures", "form_errors",
                "mfa_prompts", "mfa_posts", "mfa_polls", "mfa_successes", "mfa_failures",
                "cookie_rounds", "assertions_issued", "sso_expired", "loop_detections",
                "error_pages", "wia_redirects", "wia_challenges", "wia_successes",
                "wia_failures", "wstrust_requests", "wstrust_failures")
    dict_counters = ("failures_by_user", "wstrust_faults")

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.keytab_arg = None
        self._wia_creds = None
        self.reset_state()

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--keytab", help="keytab holding adfs.wia.service_principal "
                            "(default: adfs.wia.keytab, then $KRB5_KTNAME)")

    def apply_arguments(self, args):
        self.keytab_arg = args.keytab
        if self.world["adfs"]["wia"]["enabled"]:
            if importlib.util.find_spec("gssapi") is None:
                raise ec.WorldError("adfs.wia.enabled needs python3-gssapi "
                                    "(run /usr/bin/python3)")

    def reset_state(self):
        with self.lock:
            self.sessions = {}      # MSISAuth value -> session dict
            self.mfa_contexts = {}  # Context value -> pending second factor
            # What a client must keep secret, as issued (GET
            # /_emulator/issued): cookie values by name, Assertions,
            # SAMLResponse values. The last ISSUED_KEEP of each.
            self.issued = {"cookies": collections.defaultdict(
                               lambda: collections.deque(maxlen=ISSUED_KEEP)),
                           "assertions": collections.deque(maxlen=ISSUED_KEEP),
                           "saml_responses": collections.deque(maxlen=ISSUED_KEEP)}

    def remember(self, kind, value, cookie=None):
        with self.lock:
            if cookie:
                self.issued["cookies"][cookie].append(value)
            else:
                self.issued[kind].append(value)

    def extra_control(self, h, name, req):
        """GET /_emulator/issued: the secrets this emulator handed out, for
        tests that look for them where they must not be (test_hygiene)."""
        if name != "issued" or h.command != "GET":
            return False
        with self.lock:
            out = {"cookies": {k: list(v) for k, v in self.issued["cookies"].items()},
                   "assertions": list(self.issued["assertions"]),
                   "saml_responses": list(self.issued["saml_responses"])}
        h.reply_json(200, out)
        return True

    # --- settings and users ----------------------------------------------
    def setting(self, name):
        v = self.knobs.get(name) if name in self.extra_knobs else None
        if name == "loop_detection":
            return self.world["adfs"]["loop_detection"]["enabled"] if v is None else v
        if name == "wia_enabled":
            return self.world["adfs"]["wia"]["enabled"] if v is None else v
        return self.world["adfs"][name] if v is None else v

    def user(self, login):
        u = ec.find_user(self.world, login)
        if u is None:
            return None
        return {**u, **self.knobs.get("user_overrides").get(u["username"], {})}

    # --- dispatch -----------------------------------------------------------
    def classify(self, h, url, body):
        path = url.path.lower()
        if path in SIGNON_PATHS:
            return "signon_post" if h.command == "POST" else "signon_get"
        if path in WIA_PATHS:
            return "wia"
        if path == WSTRUST_PATH:
            return "wstrust"
        return "other"

    def fault_reply(self, h, status):
        if self.custom_fault(h, status, CTYPE):
            return
        # What http.sys/IIS sends when the AD FS service is down or broken.
        reason, text = {500: ("Internal Server Error", "The server encountered an internal error."),
                        502: ("Bad Gateway", "The gateway received an invalid response."),
                        503: ("Service Unavailable", "The service is unavailable."),
                        504: ("Gateway Timeout", "The gateway timed out.")
                        }.get(status, ("Error", "The request failed."))
        body = ('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n'
                '<HTML><HEAD><TITLE>%s</TITLE>\r\n<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>\r\n'
                '<BODY><h2>%s</h2>\r\n<hr><p>HTTP Error %d. %s</p>\r\n</BODY></HTML>\r\n'
                % (reason, reason, status, text))
        h.reply(status, body, "text/html; charset=us-ascii")

    def not_found(self, h):
        h.reply(404, "<html><body><h2>404 - File or directory not found.</h2></body></html>",
                CTYPE)

    def handle(self, h, url, body, op):
        if op == "wstrust" and self.setting("wstrust_enabled"):
            self.wstrust(h, url, body)
            return
        if op in ("other", "wstrust") or (op == "wia" and not self.setting("wia_enabled")) \
                or h.command not in ("GET", "POST", "HEAD"):
            self.not_found(h)
            return
        query = {k.lower(): v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        rp_id = query.get("logintorp")
        ctx = {"rp_id": rp_id, "crid": query.get("client-request-id") or str(uuid.uuid4()),
               "path": url.path}
        ctx["action"] = self.signon_url(ctx)
        h.entry["rp"] = rp_id
        if not self.setting("idp_initiated_signon"):
            self.error_page(h, ctx, MSG_NOT_AVAILABLE, MSIS7012)
            return
        rp = None
        if rp_id is not None:
            rp = next((v for k, v in self.world["adfs"]["relying_parties"].items()
                       if k.lower() == rp_id.lower()), None)
            if rp is None:
                self.error_page(h, ctx, MSG_GENERIC, MSIS7007 % rp_id)
                return
        ctx["rp"] = rp
        if op == "wia":
            self.wia(h, ctx)
            return
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True) \
            if h.command == "POST" else {}
        if "VerificationCode" in form or "Context" in form:
            self.mfa_post(h, ctx, form)
        elif "UserName" in form or "Password" in form:
            self.password_post(h, ctx, form)
        else:
            self.signon_get(h, ctx)

    def signon_url(self, ctx, path="/adfs/ls/IdpInitiatedSignOn.aspx"):
        """The sign-on URL the forms post to and the 302 points at."""
        url = path + "?"
        if ctx["rp_id"] is not None:
            url += "loginToRp=%s&" % quote(ctx["rp_id"], safe=":/")
        return url + "client-request-id=%s" % quote(ctx["crid"], safe="-")

    def redirect(self, h, location, headers=()):
        if self.world["adfs"]["absolute_redirects"]:
            location = "https://%s%s" % (h.headers.get("Host", self.world["adfs"]["host"]), location)
        body = ('<html><head><title>Object moved</title></head><body>\r\n'
                '<h2>Object moved to <a href="%s">here</a>.</h2>\r\n</body></html>\r\n'
                % e(location))
        h.reply(302, body, CTYPE, HTML_HEADERS + (("Location", location),) + tuple(headers))

    # --- the three steps -----------------------------------------------------
    def signon_get(self, h, ctx):
        sess = self.session_from_cookie(h)
        if sess is None and self.wia_applies(h):
            # AD FS picks the handler by User-Agent: WIA for the listed
            # ones, forms for everyone else (PROTOCOLS.md D3).
            self.stats.inc("wia_redirects")
            h.entry["result"] = "wia_redirect"
            self.redirect(h, self.signon_url(ctx, "/adfs/ls/wia"))
        elif sess is None:
            self.stats.inc("login_page_gets")
            self.login_page(h, ctx)
        elif ctx["rp"] is None:
            self.signed_in_page(h, ctx)
        else:
            self.issue_assertion(h, ctx, sess)

    def password_post(self, h, ctx, form):
        self.stats.inc("password_posts")
        login = form.get("UserName", [""])[0].strip()
        password = form.get("Password", [""])[0]
        h.entry["user"] = login
        if not re.fullmatch(r"[^\\@\s]+\\[^\\@\s]+|[^@\s]+@[^@\s]+", login):
            self.stats.inc("form_errors")
            self.login_page(h, ctx, ERR_USER_FORMAT, login)
            return
        if not password:
            self.stats.inc("form_errors")
            self.login_page(h, ctx, ERR_NO_PASSWORD, login)
            return
        user = self.user(login)
        if user is None or not secrets.compare_digest(password.encode(), user["password"].encode()):
            self.stats.inc("password_failures")
            self.stats.inc("failures_by_user", login.lower())
            h.entry["result"] = "bad_password"
            self.login_page(h, ctx, ERR_BAD_PASSWORD, login)
            return
        kmsi = form.get("Kmsi", [""])[0].lower() == "true" and self.world["adfs"]["kmsi_enabled"]
        self.primary_auth_ok(h, ctx, user, kmsi, AUTHN_PASSWORD)

    def primary_auth_ok(self, h, ctx, user, kmsi, authn_class, headers=()):
        """Password or Kerberos accepted: ask for the second factor, or sign in."""
        if user.get("mfa"):
            self.stats.inc("mfa_prompts")
            token = secrets.token_urlsafe(48)
            with self.lock:
                self.mfa_contexts[token] = {"user": user["username"], "kmsi": kmsi,
                                            "authn_class": authn_class, "polls": 0,
                                            "expires": self.now() + 300}
            h.entry["result"] = "mfa_required"
            if user["mfa"].get("type") == "push":
                self.mfa_push_page(h, ctx, user, token, headers=headers)
            else:
                self.mfa_page(h, ctx, user, token, headers=headers)
            return
        h.entry["result"] = "ok"
        self.sign_in(h, ctx, user, kmsi, authn_class, headers)

    def mfa_post(self, h, ctx, form):
        self.stats.inc("mfa_posts")
        token = form.get("Context", [""])[0]
        code = form.get("VerificationCode", [""])[0].strip()
        with self.lock:
            pending = self.mfa_contexts.get(token)
        if pending is None or pending["expires"] <= self.now():
            self.stats.inc("mfa_failures")
            h.entry["result"] = "mfa_context_expired"
            self.login_page(h, ctx, ERR_MFA_CONTEXT)
            return
        user = self.user(pending["user"])
        h.entry["user"] = user["username"]
        mfa = user.get("mfa") or {}
        if mfa.get("type") == "push":
            self.mfa_poll(h, ctx, user, mfa, token, pending)
            return
        want = str(mfa.get("code", ""))
        if not want or not secrets.compare_digest(code.encode(), want.encode()):
            self.stats.inc("mfa_failures")
            h.entry["result"] = "bad_code"
            self.mfa_page(h, ctx, user, token, ERR_MFA_CODE)
            return
        with self.lock:
            self.mfa_contexts.pop(token, None)
        self.stats.inc("mfa_successes")
        h.entry["result"] = "ok"
        self.sign_in(h, ctx, user, pending["kmsi"], pending["authn_class"])

    def mfa_poll(self, h, ctx, user, mfa, token, pending):
        """One resubmission of the Azure MFA push page (AuthMethod + Context)."""
        self.stats.inc("mfa_polls")
        need = int(mfa.get("approve_after_polls", 2))
        with self.lock:
            pending["polls"] += 1
            polls = pending["polls"]
            done = need >= 0 and polls >= need
            if done:
                self.mfa_contexts.pop(token, None)
        if not done:
            h.entry["result"] = "mfa_pending"
            self.mfa_push_page(h, ctx, user, token)
            return
        if mfa.get("deny"):
            self.stats.inc("mfa_failures")
            h.entry["result"] = "mfa_denied"
            self.mfa_push_page(h, ctx, user, token, ERR_MFA_DENIED)
            return
        self.stats.inc("mfa_successes")
        h.entry["result"] = "ok"
        self.sign_in(h, ctx, user, pending["kmsi"], pending["authn_class"])

    # --- Windows Integrated Authentication (PROTOCOLS.md D3) ------------------
    def wia_applies(self, h):
        """WIA on, and the User-Agent matches WIASupportedUserAgents: a
        substring, or a regular expression after "=~" (AD FS 2016+)."""
        if not self.setting("wia_enabled"):
            return False
        ua = h.headers.get("User-Agent", "")
        for pat in self.world["adfs"]["wia"]["user_agents"]:
            if pat.startswith("=~"):
                if re.search(pat[2:], ua):
                    return True
            elif pat in ua:
                return True
        return False

    def keytab(self):
        return (self.keytab_arg or self.world["adfs"]["wia"]["keytab"]
                or os.environ.get("KRB5_KTNAME"))

    def wia_credentials(self):
        """Acceptor credentials for adfs.wia.service_principal, from the
        keytab (cached once acquired)."""
        import gssapi
        with self.lock:
            if self._wia_creds is not None:
                return self._wia_creds
        sp = self.world["adfs"]["wia"]["service_principal"]
        if "@" in sp:       # a full principal, e.g. HTTP/localhost@TEST.REALM
            name = gssapi.Name(sp, gssapi.NameType.kerberos_principal)
        else:               # HTTP/localhost -> host-based HTTP@localhost (any realm)
            name = gssapi.Name(sp.replace("/", "@", 1), gssapi.NameType.hostbased_service)
        kt = self.keytab()
        creds = gssapi.Credentials(name=name, usage="accept",
                                   store={"keytab": kt} if kt else None)
        with self.lock:
            self._wia_creds = creds
        return creds

    def wia_accept(self, blob):
        """-> (initiator principal, output token or None); raises ValueError."""
        try:
            token = base64.b64decode(blob, validate=True)
        except ValueError:
            raise ValueError("Negotiate token is not base64") from None
        import gssapi
        try:
            sc = gssapi.SecurityContext(creds=self.wia_credentials(), usage="accept")
            out = sc.step(token)
            # python-gssapi may raise a step's error on the next access.
            if not sc.complete:
                raise ValueError("the security context needs another round (not Kerberos?)")
            return str(sc.initiator_name), out
        except gssapi.exceptions.GSSError as err:
            raise ValueError("GSS-API: %s" % err) from None

    def wia(self, h, ctx):
        """/adfs/ls/wia: HTTP Negotiate (SPNEGO/Kerberos)."""
        scheme, _, blob = h.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "negotiate" or not blob.strip():
            self.stats.inc("wia_challenges")
            h.entry["result"] = "wia_challenge"
            self.wia_unauthorized(h)
            return
        try:
            principal, out = self.wia_accept(blob.strip())
        except ValueError as err:
            self.wia_failed(h, str(err))
            return
        h.entry["principal"] = principal
        login = self.world["adfs"]["wia"]["users"].get(principal)
        user = self.user(login) if login else None
        if user is None:
            self.wia_failed(h, "no world user for Kerberos principal %s" % principal)
            return
        h.entry["user"] = user["username"]
        self.stats.inc("wia_successes")
        headers = ()
        if out and self.knobs.get("wia_mutual"):
            headers = (("WWW-Authenticate", "Negotiate " + base64.b64encode(out).decode()),)
        self.primary_auth_ok(h, ctx, user, False, AUTHN_WINDOWS, headers)

    def wia_failed(self, h, why):
        self.stats.inc("wia_failures")
        self.log("WIA failed: %s", why)
        h.entry["result"] = "wia_failed"
        h.entry["message"] = why
        self.wia_unauthorized(h)

    def wia_unauthorized(self, h):
        # http.sys's own 401 page [I]; AD FS offers only Negotiate here.
        body = ('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n'
                '<HTML><HEAD><TITLE>Not Authorized</TITLE>\r\n<META HTTP-EQUIV="Content-Type" '
                'Content="text/html; charset=us-ascii"></HEAD>\r\n<BODY><h2>Not Authorized</h2>\r\n'
                '<hr><p>HTTP Error 401. The requested resource requires user authentication.</p>\r\n'
                '</BODY></HTML>\r\n')
        h.reply(401, body, "text/html; charset=us-ascii", (("WWW-Authenticate", "Negotiate"),))

    # --- WS-Trust 1.3 usernamemixed (PROTOCOLS.md D4) --------------------------
    def wstrust(self, h, url, body):
        if h.command != "POST":
            h.reply(405, "", "text/html", (("Allow", "POST"),))
            return
        self.stats.inc("wstrust_requests")
        ctype = h.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip().lower() != "application/soap+xml":
            self.wstrust_fail(h, "content_type")
            h.reply(415, WCF_CONTENT_TYPE % ctype, "text/plain; charset=utf-8")
            return
        if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
            self.wstrust_fail(h, "dtd")
            h.reply(400, "", "text/html")
            return
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            self.wstrust_fail(h, "not_xml")
            h.reply(400, "", "text/html")
            return
        if root.tag != "{%s}Envelope" % NS_SOAP12:
            self.wstrust_fault(h, "VersionMismatch", None, None,
                               "The envelope is not a SOAP 1.2 envelope.")
            return
        hdr = root.find("s:Header", WS_NS)
        hdr = hdr if hdr is not None else ET.Element("x")
        msgid = hdr.findtext("a:MessageID", None, WS_NS)
        action = (hdr.findtext("a:Action", "", WS_NS) or "").strip()
        if action != WST_ISSUE_ACTION:
            self.wstrust_fault(h, "Sender", NS_WSA, "ActionNotSupported",
                               WCF_ACTION % action, msgid)
            return
        to = (hdr.findtext("a:To", "", WS_NS) or "").strip()
        if urlsplit(to).path.lower() != WSTRUST_PATH:
            self.wstrust_fault(h, "Sender", NS_WSA, "DestinationUnreachable", WCF_TO % to, msgid)
            return
        sec = hdr.find("o:Security", WS_NS)
        ts = sec.find("u:Timestamp", WS_NS) if sec is not None else None
        tok = sec.find("o:UsernameToken", WS_NS) if sec is not None else None
        now = self.now()
        try:
            created = ec.parse_iso(ts.findtext("u:Created", "", WS_NS))
            expires = ec.parse_iso(ts.findtext("u:Expires", "", WS_NS))
        except (AttributeError, ValueError):
            created = expires = None
        if tok is None or created is None or created > now + TIMESTAMP_SKEW \
                or expires < now - TIMESTAMP_SKEW or expires < created:
            self.wstrust_fault(h, "Sender", NS_WSSE, "InvalidSecurity", WCF_INVALID_SECURITY,
                               msgid)
            return
        login = (tok.findtext("o:Username", "", WS_NS) or "").strip()
        password = tok.findtext("o:Password", "", WS_NS) or ""
        h.entry["user"] = login
        rst = root.find("s:Body/t:RequestSecurityToken", WS_NS)
        if rst is None or (rst.findtext("t:RequestType", "", WS_NS) or "").strip() != WST_ISSUE:
            self.wstrust_fault(h, "Sender", NS_TRUST, "InvalidRequest", WST_BAD_REQUEST, msgid)
            return
        key_type = (rst.findtext("t:KeyType", "", WS_NS) or "").strip()
        token_type = (rst.findtext("t:TokenType", "", WS_NS) or "").strip()
        if key_type != WST_BEARER or (token_type and token_type not in SAML2_TOKEN_TYPES):
            # Real AD FS also issues holder-of-key and SAML 1.1 tokens; the
            # emulator only Bearer SAML 2.0 [I].
            self.wstrust_fault(h, "Sender", NS_TRUST, "InvalidRequest", WST_BAD_REQUEST, msgid)
            return
        rp_id = None
        for ns in (NS_WSA, NS_WSA_2004):
            rp_id = rst.findtext("wsp:AppliesTo/{%s}EndpointReference/{%s}Address" % (ns, ns),
                                 None, WS_NS)
            if rp_id is not None:
                break
        rp_id = (rp_id or "").strip()
        h.entry["rp"] = rp_id
        rp = next((v for k, v in self.world["adfs"]["relying_parties"].items()
                   if k.lower() == rp_id.lower()), None)
        if rp is None:
            self.wstrust_fault(h, "Sender", NS_TRUST, "InvalidScope", WST_BAD_SCOPE, msgid)
            return
        user = self.user(login) if login else None
        if user is None or not password or \
                not secrets.compare_digest(password.encode(), user["password"].encode()):
            self.stats.inc("failures_by_user", login.lower())
            self.wstrust_fault(h, "Sender", NS_TRUST, "FailedAuthentication",
                               WST_BAD_CREDENTIALS, msgid)
            return
        if user.get("mfa"):
            # usernamemixed cannot do a second factor [I].
            self.wstrust_fault(h, "Sender", NS_TRUST, "FailedAuthentication",
                               WST_ACCESS_DENIED, msgid)
            return
        sess = {"authn": now, "authn_class": AUTHN_PASSWORD,
                "session_index": "_" + str(uuid.uuid4())}
        assertion = self.saml_assertion(user, sess, rp, now,
                                        recipient=self.knobs.get("wstrust_recipient"))
        aid = re.search(r'\sID="([^"]+)"', assertion).group(1)
        self.stats.inc("assertions_issued")
        h.entry["result"] = "assertion"
        t = lambda x: ec.iso_utc(x, millis=True)  # noqa: E731
        ref = ('<o:SecurityTokenReference b:TokenType="http://docs.oasis-open.org/wss/'
               'oasis-wss-saml-token-profile-1.1#SAMLV2.0" xmlns:o="%s" xmlns:b="http://docs.'
               'oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"><o:KeyIdentifier '
               'ValueType="http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID">'
               '%s</o:KeyIdentifier></o:SecurityTokenReference>' % (NS_WSSE, aid))
        doc = (
            '<s:Envelope xmlns:s="%(s)s" xmlns:a="%(a)s" xmlns:u="%(u)s"><s:Header>'
            '<a:Action s:mustUnderstand="1">%(action)s</a:Action>%(relates)s'
            '<o:Security s:mustUnderstand="1" xmlns:o="%(o)s"><u:Timestamp u:Id="_0">'
            '<u:Created>%(now)s</u:Created><u:Expires>%(ts_exp)s</u:Expires></u:Timestamp>'
            '</o:Security></s:Header><s:Body>'
            '<trust:RequestSecurityTokenResponseCollection xmlns:trust="%(t)s">'
            '<trust:RequestSecurityTokenResponse><trust:Lifetime>'
            '<wsu:Created xmlns:wsu="%(u)s">%(now)s</wsu:Created>'
            '<wsu:Expires xmlns:wsu="%(u)s">%(exp)s</wsu:Expires></trust:Lifetime>'
            '<wsp:AppliesTo xmlns:wsp="%(wsp)s"><wsa:EndpointReference xmlns:wsa="%(a)s">'
            '<wsa:Address>%(rp)s</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>'
            '<trust:RequestedSecurityToken>%(assertion)s</trust:RequestedSecurityToken>'
            '<trust:RequestedAttachedReference>%(ref)s</trust:RequestedAttachedReference>'
            '<trust:RequestedUnattachedReference>%(ref)s</trust:RequestedUnattachedReference>'
            '<trust:TokenType>urn:oasis:names:tc:SAML:2.0:assertion</trust:TokenType>'
            '<trust:RequestType>%(issue)s</trust:RequestType>'
            '<trust:KeyType>%(bearer)s</trust:KeyType>'
            '</trust:RequestSecurityTokenResponse></trust:RequestSecurityTokenResponseCollection>'
            '</s:Body></s:Envelope>'
        ) % {"s": NS_SOAP12, "a": NS_WSA, "u": NS_WSU, "o": NS_WSSE, "t": NS_TRUST,
             "wsp": NS_WSP, "action": WST_FINAL_ACTION,
             "relates": "<a:RelatesTo>%s</a:RelatesTo>" % e(msgid) if msgid else "",
             "now": t(now), "ts_exp": t(now + 300), "exp": t(now + self.setting("token_lifetime")),
             "rp": e(rp_id), "assertion": assertion, "ref": ref, "issue": WST_ISSUE,
             "bearer": WST_BEARER}
        h.reply(200, doc, SOAP_CTYPE)

    def wstrust_fail(self, h, kind):
        self.stats.inc("wstrust_failures")
        self.stats.inc("wstrust_faults", kind)
        h.entry["result"] = "fault"
        h.entry["code"] = kind

    def wstrust_fault(self, h, code, sub_ns, subcode, text, msgid=None):
        """A SOAP 1.2 fault as WCF sends it: HTTP 500, the subcode's prefix
        declared on its own s:Value."""
        self.wstrust_fail(h, subcode or code)
        h.entry["message"] = text
        sub = ('<s:Subcode><s:Value xmlns:a="%s">a:%s</s:Value></s:Subcode>' % (sub_ns, subcode)
               if subcode else "")
        doc = ('<s:Envelope xmlns:s="%s" xmlns:a="%s"><s:Header>'
               '<a:Action s:mustUnderstand="1">http://www.w3.org/2005/08/addressing/soap/fault'
               '</a:Action>%s</s:Header><s:Body><s:Fault><s:Code><s:Value>s:%s</s:Value>%s'
               '</s:Code><s:Reason><s:Text xml:lang="en-US">%s</s:Text></s:Reason></s:Fault>'
               '</s:Body></s:Envelope>'
               % (NS_SOAP12, NS_WSA,
                  "<a:RelatesTo>%s</a:RelatesTo>" % e(msgid) if msgid else "",
                  code, sub, e(text)))
        h.reply(500, doc, SOAP_CTYPE)

    # --- SSO session -------------------------------------------------------
    def sign_in(self, h, ctx, user, kmsi, authn_class=AUTHN_PASSWORD, headers=()):
        """Create the SSO session and redirect back to the sign-on URL."""
        now = self.now()
        lifetime = self.world["adfs"]["kmsi_lifetime"] if kmsi else self.setting("sso_lifetime")
        token = base64.b64encode(os.urandom(384)).decode()  # opaque, like the real blob
        with self.lock:
            self.sessions[token] = {"user": user["username"], "authn": now,
                                    "expires": now + lifetime, "kmsi": kmsi, "fresh": True,
                                    "issued": collections.deque(),
                                    "authn_class": authn_class,
                                    "session_index": "_" + str(uuid.uuid4())}
        attrs = COOKIE_ATTRS
        if kmsi:
            attrs += "; expires=" + ec.http_date(now + lifetime)
        when = datetime.fromtimestamp(now, tz=timezone.utc)
        # .NET's default format, e.g. "3/10/2021 3:52:19 PM"
        authenticated = "%d/%d/%d %d:%s" % (when.month, when.day, when.year,
                                            (when.hour % 12) or 12, when.strftime("%M:%S %p"))
        loop = when.strftime("%Y-%m-%d:%H:%M:%SZ") + "\\1"
        cookies = [("Set-Cookie", "MSISAuth=%s; %s" % (token, attrs)),
                   ("Set-Cookie", "MSISAuthenticated=%s; %s" % (_b64(authenticated), attrs)),
                   ("Set-Cookie", "MSISLoopDetectionCookie=%s; %s" % (_b64(loop), attrs))]
        self.remember("cookies", token, cookie="MSISAuth")
        self.remember("cookies", _b64(authenticated), cookie="MSISAuthenticated")
        self.redirect(h, self.signon_url(ctx), tuple(headers) + tuple(cookies))

    def session_from_cookie(self, h):
        token = _cookies(h.headers.get_all("Cookie") or []).get("MSISAuth")
        if not token:
            return None
        with self.lock:
            sess = self.sessions.get(token)
            if sess is None:
                return None
            if sess["expires"] <= self.now():
                del self.sessions[token]
                self.stats.inc("sso_expired")
                h.entry["sso"] = "expired"
                return None
            user = self.user(sess["user"])
            if user is None or user.get("revoked"):
                del self.sessions[token]
                return None
            return sess

    def issue_assertion(self, h, ctx, sess):
        now = self.now()
        ld = self.world["adfs"]["loop_detection"]
        with self.lock:
            issued = sess["issued"]
            while issued and issued[0] <= now - ld["interval"]:
                issued.popleft()
            looping = self.setting("loop_detection") and len(issued) >= ld["max_tokens"]
            if not looping:
                issued.append(now)
                fresh, sess["fresh"] = sess["fresh"], False
        if looping:
            self.stats.inc("loop_detections")
            span = int(now - issued[0]) if issued else 0
            self.error_page(h, ctx, MSG_GENERIC, MSIS7042 % (len(issued) + 1, span))
            return
        if not fresh:
            self.stats.inc("cookie_rounds")
        self.stats.inc("assertions_issued")
        h.entry["result"] = "assertion"
        user = self.user(sess["user"])
        saml = self.saml_response(user, sess, ctx["rp"], now)
        b64 = base64.b64encode(saml.encode("utf-8")).decode()
        self.remember("saml_responses", b64)
        page = ('<html><head><title>Working...</title></head><body>'
                '<form method="POST" name="hiddenform" action="%s">'
                '<input type="hidden" name="SAMLResponse" value="%s" />'
                '<noscript><p>Script is disabled. Click Submit to continue.</p>'
                '<input type="submit" value="Submit" /></noscript></form>'
                '<script language="javascript">window.setTimeout(\'document.forms[0].submit()\', 0);'
                '</script></body></html>' % (e(ctx["rp"]["acs"]), e(b64)))
        loop = datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y-%m-%d:%H:%M:%SZ")
        cookies = (("Set-Cookie", "MSISLoopDetectionCookie=%s; %s"
                    % (_b64("%s\\%d" % (loop, len(sess["issued"]))), COOKIE_ATTRS)),
                   ("Set-Cookie", "MSISSignOut=%s; %s"
                    % (_b64("RP:" + ctx["rp"]["audience"]), COOKIE_ATTRS)))
        h.reply(200, page, CTYPE, HTML_HEADERS + cookies)

    # --- SAML ---------------------------------------------------------------
    def saml_assertion(self, user, sess, rp, now, recipient=True):
        """The signed Assertion (AD FS layout, see README.md), as text.
        recipient=False leaves Recipient out of SubjectConfirmationData."""
        a = self.world["adfs"]
        p = a["assertion_prefix"] + ":" if a["assertion_prefix"] else ""
        xmlns = ('xmlns:%s="%s"' % (a["assertion_prefix"], ec.NS_SAML) if p
                 else 'xmlns="%s"' % ec.NS_SAML)
        issuer = e(a["issuer"])
        aid = "_" + str(uuid.uuid4())
        recipient = ' Recipient="%s"' % e(rp["recipient"]) if recipient else ""
        t = lambda s: ec.iso_utc(s, millis=True)  # noqa: E731
        attrs = [(ec.ATTR_SESSION_NAME, [user["role_session_name"]]),
                 (ec.ATTR_ROLE, list(user["roles"]))]
        if user.get("session_duration") is not None:
            attrs.append((ec.ATTR_SESSION_DURATION, [str(user["session_duration"])]))
        for name, vals in user.get("attributes", {}).items():
            attrs.append((name, vals if isinstance(vals, list) else [vals]))
        attr_xml = "".join(
            '<%sAttribute Name="%s">%s</%sAttribute>'
            % (p, e(n), "".join("<%sAttributeValue>%s</%sAttributeValue>" % (p, e(v), p)
                                for v in vals), p)
            for n, vals in attrs)
        snooa = ""
        if user.get("session_not_on_or_after") is not None:
            snooa = ' SessionNotOnOrAfter="%s"' % t(sess["authn"] + user["session_not_on_or_after"])
        assertion = (
            '<{p}Assertion ID="{aid}" IssueInstant="{now}" Version="2.0" {xmlns}>'
            '<{p}Issuer>{issuer}</{p}Issuer>'
            '<{p}Subject><{p}NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">'
            '{nameid}</{p}NameID><{p}SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            '<{p}SubjectConfirmationData NotOnOrAfter="{conf}"{recipient} />'
            '</{p}SubjectConfirmation></{p}Subject>'
            '<{p}Conditions NotBefore="{now}" NotOnOrAfter="{cond}"><{p}AudienceRestriction>'
            '<{p}Audience>{aud}</{p}Audience></{p}AudienceRestriction></{p}Conditions>'
            '<{p}AttributeStatement>{attrs}</{p}AttributeStatement>'
            '<{p}AuthnStatement AuthnInstant="{authn}" SessionIndex="{sidx}"{snooa}>'
            '<{p}AuthnContext><{p}AuthnContextClassRef>{authn_class}'
            '</{p}AuthnContextClassRef></{p}AuthnContext></{p}AuthnStatement>'
            '</{p}Assertion>'
        ).format(p=p, aid=aid, now=t(now), xmlns=xmlns, issuer=issuer,
                 nameid=e(user["name_id"]), conf=t(now + self.setting("confirmation_lifetime")),
                 recipient=recipient, cond=t(now + self.setting("token_lifetime")),
                 aud=e(rp["audience"]), attrs=attr_xml, authn=t(sess["authn"]),
                 sidx=sess["session_index"], snooa=snooa,
                 authn_class=e(sess.get("authn_class", AUTHN_PASSWORD)))
        signed = ec.saml_sign_assertion(assertion, aid, self.world["saml"]["hmac_key"])
        self.remember("assertions", signed)
        return signed

    def saml_response(self, user, sess, rp, now):
        """Build the signed samlp:Response (AD FS layout, see README.md)."""
        a = self.world["adfs"]
        p = a["assertion_prefix"] + ":" if a["assertion_prefix"] else ""
        xmlns = ('xmlns:%s="%s"' % (a["assertion_prefix"], ec.NS_SAML) if p
                 else 'xmlns="%s"' % ec.NS_SAML)
        issuer = e(a["issuer"])
        rid = "_" + str(uuid.uuid4())
        t = lambda s: ec.iso_utc(s, millis=True)  # noqa: E731
        assertion = self.saml_assertion(user, sess, rp, now)
        issuer_el = ('<%sIssuer %s>%s</%sIssuer>' % (p, xmlns, issuer, p))
        return ('<samlp:Response ID="%s" Version="2.0" IssueInstant="%s" Destination="%s" '
                'Consent="urn:oasis:names:tc:SAML:2.0:consent:unspecified" xmlns:samlp="%s">'
                '%s<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success" />'
                '</samlp:Status>%s</samlp:Response>'
                % (rid, t(now), e(rp["destination"]), ec.NS_SAMLP, issuer_el, assertion))

    # --- pages ----------------------------------------------------------------
    def login_page(self, h, ctx, error="", username=""):
        a = self.world["adfs"]
        kmsi_style = "" if a["kmsi_enabled"] else ' style="display:none"'
        page = _head("Sign In", a["company_name"]) + """                <div id="authArea" class="groupMargin">
                    <div id="loginArea">
                        <div id="loginMessage" class="groupMargin">Sign in with your organizational account</div>
                        <!-- <form method="post" id="loginForm" action="/adfs/ls/decoy"> (old template) -->
                        %(form)s
                            %(error)s
                            <div id="formsAuthenticationArea">
                                <div id="userNameArea">
                                    <label id="userNameInputLabel" for="userNameInput" class="hidden">User Account</label>
                                    <input id="userNameInput" name="UserName" type="email" value="%(user)s" tabindex="1" class="text fullWidth"
                                        spellcheck="false" placeholder="someone@example.com" autocomplete="off"/>
                                </div>
                                <div id="passwordArea">
                                    <label id="passwordInputLabel" for="passwordInput" class="hidden">Password</label>
                                    <input id="passwordInput" name="Password" type="password" tabindex="2" class="text fullWidth"
                                        placeholder="Password" autocomplete="off"/>
                                </div>
                                <div id="kmsiArea"%(kmsi)s>
                                    <input type="checkbox" name="Kmsi" id="kmsiInput" value="true" tabindex="3" />
                                    <label for="kmsiInput">Keep me signed in</label>
                                </div>
                                <div id="submissionArea" class="submitMargin">
                                    <span id="submitButton" class="submit" tabindex="4" role="button"
                                        onKeyPress="if (event &amp;&amp; event.keyCode == 32) Login.submitLoginRequest();"
                                        onclick="return Login.submitLoginRequest();">Sign in</span>
                                </div>
                            </div>
                            <input id="optionForms" type="hidden" name="AuthMethod" value="FormsAuthentication"/>
                        </form>
                        <div id="authOptions">
                            <form id="options" method="post" action="%(action)s">
                                <script type="text/javascript">
                                    function SelectOption(option) {
                                        var i = document.getElementById('optionSelection');
                                        i.value = option;
                                        document.forms['options'].submit();
                                        return false;
                                    }
                                </script>
                                <input id="optionSelection" type="hidden" name="AuthMethod" />
                                <div class='groupMargin'></div>
                            </form>
                        </div>
                        <div id="introduction" class="groupMargin"></div>
                    </div>
                </div>
""" % {"form": _form_open(ctx["action"]), "error": _error_div(a["error_text_tag"], error),
       "user": e(username), "kmsi": kmsi_style, "action": e(ctx["action"])} + _FOOT
        h.reply(200, page, CTYPE, HTML_HEADERS)

    def _options_form(self, ctx):
        """AD FS's "sign in another way" chooser: an (empty) form#options that
        posts to the same URL.  aws-adfs takes the MFA post URL from it."""
        return """                        <div id="authOptions">
                            <form id="options" method="post" action="%s">
                                <input id="optionSelection" type="hidden" name="AuthMethod" />
                                <div class='groupMargin'></div>
                            </form>
                        </div>
""" % e(ctx["action"])

    def mfa_page(self, h, ctx, user, token, error="", headers=()):
        """Second factor, one-time code (PROTOCOLS.md D2)."""
        a = self.world["adfs"]
        page = _head("Sign In", a["company_name"]) + """                <div id="authArea" class="groupMargin">
                    <div id="loginArea">
                        <div id="loginMessage" class="groupMargin">For security reasons, we require additional information to verify your account (%(upn)s)</div>
                        %(form)s
                            %(error)s
                            <div id="verificationCodeArea">
                                <label id="verificationCodeInputLabel" for="verificationCodeInput">Enter the verification code</label>
                                <input id="verificationCodeInput" name="VerificationCode" type="text" value="" tabindex="1"
                                    class="text fullWidth" autocomplete="off" placeholder="Verification code"/>
                            </div>
                            <input id="authMethod" type="hidden" name="AuthMethod" value="%(method)s"/>
                            <input id="context" type="hidden" name="Context" value="%(ctx)s"/>
                            <div id="submissionArea" class="submitMargin">
                                <input id="submitButton" type="submit" name="SignIn" value="Sign in" class="submit"/>
                            </div>
                        </form>
%(options)s                    </div>
                </div>
""" % {"upn": e(user["upn"]), "form": _form_open(ctx["action"]),
       "error": _error_div(a["error_text_tag"], error), "method": e(user["mfa"].get("auth_method", "AzureMfaAuthentication")),
       "ctx": e(token), "options": self._options_form(ctx)} + _FOOT
        h.reply(200, page, CTYPE, HTML_HEADERS + tuple(headers))

    def mfa_push_page(self, h, ctx, user, token, error="", headers=()):
        """Second factor, Azure MFA push (PROTOCOLS.md D2): the page the
        browser re-submits (AuthMethod + Context, no code) until the phone
        approves.  The hidden fields live in form#options, whose action
        aws-adfs posts to; p#instructions and p#validEntropyNumber are what
        saml2aws and aws-adfs show the user."""
        a = self.world["adfs"]
        mfa = user["mfa"]
        number = mfa.get("number") or ""
        if error:
            info = ""
        else:
            info = ('                            <p id="instructions" class="text">%s</p>\n'
                    % e(MFA_NUMBER_TEXT if number else MFA_PUSH_TEXT))
            if number:
                info += ('                            <div id="entropyArea"><p id="validEntropyNumber" '
                         'class="displaySign">%s</p></div>\n' % e(number))
        page = _head("Sign In", a["company_name"]) + """                <div id="authArea" class="groupMargin">
                    <div id="loginArea">
                        <div id="loginMessage" class="groupMargin">For security reasons, we require additional information to verify your account (%(upn)s)</div>
                        <div id="mfaGreetingDescription" class="groupMargin">Approve sign in request</div>
                        <form method="post" id="options" autocomplete="off" novalidate="novalidate" action="%(action)s">
                            %(error)s
%(info)s                            <input id="authMethod" type="hidden" name="AuthMethod" value="%(method)s"/>
                            <input id="context" type="hidden" name="Context" value="%(ctx)s"/>
                        </form>
                        <script type="text/javascript">
//<![CDATA[
window.setTimeout(function () { document.forms['options'].submit(); }, 1000);
//]]>
                        </script>
                    </div>
                </div>
""" % {"upn": e(user["upn"]), "action": e(ctx["action"]),
       "error": _error_div(a["error_text_tag"], error), "info": info,
       "method": e(mfa.get("auth_method", "AzureMfaAuthentication")), "ctx": e(token)} + _FOOT
        h.reply(200, page, CTYPE, HTML_HEADERS + tuple(headers))

    def signed_in_page(self, h, ctx):
        options = "".join('<option value="%s">%s</option>' % (e(k), e(v["name"]))
                          for k, v in self.world["adfs"]["relying_parties"].items())
        page = _head("Sign In", self.world["adfs"]["company_name"]) + """                <div id="authArea" class="groupMargin">
                    <div id="idpInitiatedSignOnArea">
                        <div id="signedInMessage" class="groupMargin">You are signed in.</div>
                        <form method="post" id="idpForm" action="%s">
                            <select id="idp_RelyingPartyDropDownList" name="RelyingParty">%s</select>
                        </form>
                    </div>
                </div>
""" % (e(ctx["action"]), options) + _FOOT
        h.reply(200, page, CTYPE, HTML_HEADERS)

    def error_page(self, h, ctx, message, detail):
        """AD FS's generic error page (served with HTTP 200, like AD FS)."""
        self.stats.inc("error_pages")
        h.entry["result"] = "error_page"
        rp_name = ctx["rp"]["name"] if ctx.get("rp") else (ctx["rp_id"] or "")
        page = _head("Sign In", self.world["adfs"]["company_name"]) + """                <div id="authArea" class="groupMargin">
                    <div id="openingMessage" class="groupMargin">An error occurred</div>
                    <div id="errorMessage" class="groupMargin">%(msg)s</div>
                    <div id="errorDetails" class="groupMargin">
                        <div id="errorDetailsText"><span class="bold">Error details</span>
                            <ul>
                                <li>Activity ID: %(act)s</li>
                                <li>Relying party: %(rp)s</li>
                                <li>Error time: %(time)s</li>
                                <li>Cookie: enabled</li>
                                <li>User agent string: %(ua)s</li>
                                <li id="errorDetailCode">%(detail)s</li>
                            </ul>
                        </div>
                    </div>
                </div>
""" % {"msg": e(message), "act": uuid.uuid4(), "rp": e(rp_name),
       "time": ec.http_date(self.now()), "ua": e(h.headers.get("User-Agent", "")),
       "detail": e(detail)} + _FOOT
        h.reply(200, page, CTYPE, HTML_HEADERS)


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def _cookies(header_values):
    """Cookie header(s) -> {name: value} (first occurrence wins)."""
    out = {}
    for hv in header_values:
        for part in hv.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name not in out:
                out[name] = value
    return out


if __name__ == "__main__":
    sys.exit(ec.main(AdfsEmulator, "AD FS IdP-initiated sign-on emulator"))
