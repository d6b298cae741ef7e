#!/usr/bin/python3
"""AD FS 2016+ emulator for adfs-credd tests: IdP-initiated forms sign-on.

Serves /adfs/ls/IdpInitiatedSignOn.aspx like AD FS (PROTOCOLS.md D1, D5):
  GET  without a valid SSO cookie  -> 200 login page (form#loginForm)
  POST UserName/Password           -> 302 back to the same URL + MSIS cookies,
                                      or the login page again with errorText
  (POST VerificationCode/Context   -> second factor, for users with "mfa")
  GET  with a valid MSISAuth       -> 200 auto-post page holding SAMLResponse
The SAMLResponse carries an emulator-only HMAC signature (emucommon.py) that
sts_emulator.py verifies.  Control endpoints and faults: README.md.

Usage: adfs_emulator.py --world W.json --cert server.pem --key server.key
                        [--port 0] [--host 127.0.0.1] [--time-offset S] [--verbose]
"""

import base64
import collections
import html
import os
import re
import secrets
import sys
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qs, quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emucommon as ec  # noqa: E402

SIGNON_PATHS = ("/adfs/ls/idpinitiatedsignon.aspx", "/adfs/ls/idpinitiatedsignon")
COOKIE_ATTRS = "path=/adfs; secure; HttpOnly"

# Texts shown by AD FS (the first three come from its LoginErrors script).
ERR_BAD_PASSWORD = ("Incorrect user ID or password. Type the correct user ID and "
                    "password, and try again.")
ERR_USER_FORMAT = 'Enter your user ID in the format "domain\\user" or "user@domain".'
ERR_NO_PASSWORD = "Enter your password."
# Emulator wording (not verified against a live AD FS):
ERR_MFA_CODE = "The verification code you entered is incorrect. Try again."
ERR_MFA_CONTEXT = "Your sign-in session has expired. Sign in again."
MSG_GENERIC = "An error occurred. Contact your administrator for more information."
MSG_NOT_AVAILABLE = ("The resource you are trying to access is not available. "
                     "Contact your administrator for more information.")
MSIS7012 = ("MSIS7012: An error occurred while processing the request. "
            "Contact your administrator for details.")
MSIS7007 = "MSIS7007: The requested relying party trust '%s' is unspecified or unsupported."
MSIS7042 = ("MSIS7042: The same client browser session has made '%d' requests in the "
            "last '%d' seconds. Contact your administrator for details.")

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
    }
    counters = ("login_page_gets", "password_posts", "password_failures", "form_errors",
                "mfa_prompts", "mfa_posts", "mfa_failures",
                "cookie_rounds", "assertions_issued", "sso_expired", "loop_detections",
                "error_pages")
    dict_counters = ("failures_by_user",)

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.reset_state()

    def reset_state(self):
        with self.lock:
            self.sessions = {}      # MSISAuth value -> session dict
            self.mfa_contexts = {}  # Context value -> pending second factor

    # --- settings and users ----------------------------------------------
    def setting(self, name):
        v = self.knobs.get(name) if name in self.extra_knobs else None
        if name == "loop_detection":
            return self.world["adfs"]["loop_detection"]["enabled"] if v is None else v
        return self.world["adfs"][name] if v is None else v

    def user(self, login):
        u = ec.find_user(self.world, login)
        if u is None:
            return None
        return {**u, **self.knobs.get("user_overrides").get(u["username"], {})}

    # --- dispatch -----------------------------------------------------------
    def classify(self, h, url, body):
        if url.path.lower() in SIGNON_PATHS:
            return "signon_post" if h.command == "POST" else "signon_get"
        return "other"

    def fault_reply(self, h, status):
        k = self.knobs.snapshot()
        if k["fail_body"] is not None:
            h.reply(status, k["fail_body"], k["fail_content_type"] or CTYPE)
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

    def handle(self, h, url, body, op):
        if op == "other" or h.command not in ("GET", "POST", "HEAD"):
            h.reply(404, "<html><body><h2>404 - File or directory not found.</h2></body></html>",
                    CTYPE)
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
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True) \
            if h.command == "POST" else {}
        if "VerificationCode" in form or "Context" in form:
            self.mfa_post(h, ctx, form)
        elif "UserName" in form or "Password" in form:
            self.password_post(h, ctx, form)
        else:
            self.signon_get(h, ctx)

    def signon_url(self, ctx):
        """The sign-on URL the forms post to and the 302 points at."""
        url = "/adfs/ls/IdpInitiatedSignOn.aspx?"
        if ctx["rp_id"] is not None:
            url += "loginToRp=%s&" % quote(ctx["rp_id"], safe=":/")
        return url + "client-request-id=%s" % quote(ctx["crid"], safe="-")

    # --- the three steps -----------------------------------------------------
    def signon_get(self, h, ctx):
        sess = self.session_from_cookie(h)
        if sess is None:
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
        if user.get("mfa"):
            self.stats.inc("mfa_prompts")
            token = secrets.token_urlsafe(48)
            with self.lock:
                self.mfa_contexts[token] = {"user": user["username"], "kmsi": kmsi,
                                            "expires": self.now() + 300}
            h.entry["result"] = "mfa_required"
            self.mfa_page(h, ctx, user, token)
            return
        h.entry["result"] = "ok"
        self.sign_in(h, ctx, user, kmsi)

    def mfa_post(self, h, ctx, form):
        self.stats.inc("mfa_posts")
        token = form.get("Context", [""])[0]
        code = form.get("VerificationCode", [""])[0].strip()
        with self.lock:
            pending = self.mfa_contexts.get(token)
        if pending is None or pending["expires"] <= self.now():
            self.stats.inc("mfa_failures")
            self.login_page(h, ctx, ERR_MFA_CONTEXT)
            return
        user = self.user(pending["user"])
        want = str((user.get("mfa") or {}).get("code", ""))
        if not want or not secrets.compare_digest(code.encode(), want.encode()):
            self.stats.inc("mfa_failures")
            h.entry["result"] = "bad_code"
            self.mfa_page(h, ctx, user, token, ERR_MFA_CODE)
            return
        with self.lock:
            self.mfa_contexts.pop(token, None)
        h.entry["result"] = "ok"
        self.sign_in(h, ctx, user, pending["kmsi"])

    # --- SSO session -------------------------------------------------------
    def sign_in(self, h, ctx, user, kmsi):
        """Create the SSO session and redirect back to the sign-on URL."""
        now = self.now()
        lifetime = self.world["adfs"]["kmsi_lifetime"] if kmsi else self.setting("sso_lifetime")
        token = base64.b64encode(os.urandom(384)).decode()  # opaque, like the real blob
        with self.lock:
            self.sessions[token] = {"user": user["username"], "authn": now,
                                    "expires": now + lifetime, "kmsi": kmsi, "fresh": True,
                                    "issued": collections.deque(),
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
        location = self.signon_url(ctx)
        if self.world["adfs"]["absolute_redirects"]:
            location = "https://%s%s" % (h.headers.get("Host", self.world["adfs"]["host"]), location)
        body = ('<html><head><title>Object moved</title></head><body>\r\n'
                '<h2>Object moved to <a href="%s">here</a>.</h2>\r\n</body></html>\r\n'
                % e(location))
        h.reply(302, body, CTYPE, HTML_HEADERS + (("Location", location),) + tuple(cookies))

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
    def saml_response(self, user, sess, rp, now):
        """Build the signed samlp:Response (AD FS layout, see README.md)."""
        a = self.world["adfs"]
        p = a["assertion_prefix"] + ":" if a["assertion_prefix"] else ""
        xmlns = ('xmlns:%s="%s"' % (a["assertion_prefix"], ec.NS_SAML) if p
                 else 'xmlns="%s"' % ec.NS_SAML)
        issuer = e(a["issuer"])
        rid, aid = "_" + str(uuid.uuid4()), "_" + str(uuid.uuid4())
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
            '<{p}SubjectConfirmationData NotOnOrAfter="{conf}" Recipient="{recipient}" />'
            '</{p}SubjectConfirmation></{p}Subject>'
            '<{p}Conditions NotBefore="{now}" NotOnOrAfter="{cond}"><{p}AudienceRestriction>'
            '<{p}Audience>{aud}</{p}Audience></{p}AudienceRestriction></{p}Conditions>'
            '<{p}AttributeStatement>{attrs}</{p}AttributeStatement>'
            '<{p}AuthnStatement AuthnInstant="{authn}" SessionIndex="{sidx}"{snooa}>'
            '<{p}AuthnContext><{p}AuthnContextClassRef>'
            'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport'
            '</{p}AuthnContextClassRef></{p}AuthnContext></{p}AuthnStatement>'
            '</{p}Assertion>'
        ).format(p=p, aid=aid, now=t(now), xmlns=xmlns, issuer=issuer,
                 nameid=e(user["name_id"]), conf=t(now + self.setting("confirmation_lifetime")),
                 recipient=e(rp["recipient"]), cond=t(now + self.setting("token_lifetime")),
                 aud=e(rp["audience"]), attrs=attr_xml, authn=t(sess["authn"]),
                 sidx=sess["session_index"], snooa=snooa)
        assertion = ec.saml_sign_assertion(assertion, aid, self.world["saml"]["hmac_key"])
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

    def mfa_page(self, h, ctx, user, token, error=""):
        a = self.world["adfs"]
        page = _head("Sign In", a["company_name"]) + """                <div id="authArea" class="groupMargin">
                    <div id="loginArea">
                        <div id="loginMessage" class="groupMargin">For security reasons, we require additional information to verify your account (%(upn)s)</div>
                        %(form)s
                            %(error)s
                            <div id="verificationCodeArea">
                                <label id="verificationCodeInputLabel" for="verificationCodeInput">Enter the verification code</label>
                                <input id="verificationCodeInput" name="VerificationCode" type="text" value="" tabindex="1"
                                    class="text fullWidth" autocomplete="off"/>
                            </div>
                            <input id="authMethod" type="hidden" name="AuthMethod" value="%(method)s"/>
                            <input id="context" type="hidden" name="Context" value="%(ctx)s"/>
                            <div id="submissionArea" class="submitMargin">
                                <input id="submitButton" type="submit" name="SignIn" value="Sign in" class="submit"/>
                            </div>
                        </form>
                    </div>
                </div>
""" % {"upn": e(user["upn"]), "form": _form_open(ctx["action"]),
       "error": _error_div(a["error_text_tag"], error), "method": e(user["mfa"].get("auth_method", "AzureMfaAuthentication")),
       "ctx": e(token)} + _FOOT
        h.reply(200, page, CTYPE, HTML_HEADERS)

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
