/* STS and IAM query-protocol replies (PROTOCOLS.md C2, C3, C5; botocore
 * parsers.py QueryParser). Elements are matched by local name within the
 * service namespace; a reply without any namespace is accepted too, but a
 * reply in a foreign namespace is not. */
#include "sts/sts-xml.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "util/secret.h"
#include "util/timeutil.h"
#include "util/xml.h"

#define NS_STS "https://sts.amazonaws.com/doc/2011-06-15/"
#define NS_IAM "https://iam.amazonaws.com/doc/2010-05-08/"

/* IAM roleMaxSessionDurationType (iam service-2.json). */
#define ROLE_MAX_SESSION_MIN 3600u
#define ROLE_MAX_SESSION_MAX 43200u

struct sts_creds *sts_creds_free(struct sts_creds *c)
{
	if (!c)
		return NULL;
	free(c->access_key_id);
	(void)secret_free(c->secret_access_key);
	(void)secret_free(c->session_token);
	free(c->assumed_role_arn);
	free(c->assumed_role_id);
	free(c->account_id);
	free(c);
	return NULL;
}

struct sts_error *sts_error_free(struct sts_error *e)
{
	if (!e)
		return NULL;
	free(e->type);
	free(e->code);
	free(e->message);
	free(e->request_id);
	free(e);
	return NULL;
}

/* Returns the root element when its local name is root_name and its
 * namespace is one of ns1/ns2 or none; *ret_ns is the namespace the rest
 * of the document is matched in. */
static xmlNode *reply_root(const xmlDoc *doc, const char *root_name,
			   const char *ns1, const char *ns2,
			   const char **ret_ns)
{
	xmlNode *root = xmlDocGetRootElement(doc);

	if (xml_is(root, NULL, root_name)) {
		*ret_ns = NULL;
		return root;
	}
	if (ns1 && xml_is(root, ns1, root_name)) {
		*ret_ns = ns1;
		return root;
	}
	if (ns2 && xml_is(root, ns2, root_name)) {
		*ret_ns = ns2;
		return root;
	}
	return NULL;
}

/* Required text child: -EBADMSG when absent or empty after trimming. */
static int required_text(const xmlNode *parent, const char *ns,
			 const char *name, char **ret)
{
	xmlNode *n = xml_child(parent, ns, name);
	_cleanup_free_ char *t = NULL;
	int r;

	if (!n)
		return -EBADMSG;
	r = xml_text_dup(n, &t);
	if (r < 0)
		return r;
	if (!*t)
		return -EBADMSG;
	*ret = TAKE_PTR(t);
	return 0;
}

/* Optional text child: 0 with *ret untouched when absent or empty. */
static int optional_text(const xmlNode *parent, const char *ns,
			 const char *name, char **ret)
{
	int r = required_text(parent, ns, name, ret);

	return r == -EBADMSG ? 0 : r;
}

static int required_secret(const xmlNode *parent, const char *ns,
			   const char *name, struct secret **ret)
{
	xmlNode *n = xml_child(parent, ns, name);
	_cleanup_(secret_freep) struct secret *s = NULL;
	int r;

	if (!n)
		return -EBADMSG;
	r = xml_text_secret(n, &s);
	if (r < 0)
		return r;
	if (s->len == 0)
		return -EBADMSG;
	*ret = TAKE_PTR(s);
	return 0;
}

/* arn:partition:service:region:account-id:resource; the account is the
 * fifth field and always 12 digits. */
static int arn_account(const char *arn, char **ret)
{
	const char *p = arn, *start;
	size_t len;
	char *s;

	if (!strneq(arn, "arn:", 4))
		return -EBADMSG;
	for (int i = 0; i < 4; i++) {
		p = strchr(p, ':');
		if (!p)
			return -EBADMSG;
		p++;
	}
	start = p;
	p = strchr(p, ':');
	if (!p)
		return -EBADMSG;
	len = (size_t)(p - start);
	if (len != 12 || strspn(start, "0123456789") < 12)
		return -EBADMSG;
	s = strndup(start, len);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int sts_xml_parse_assume(const char *xml, size_t len, struct sts_creds **ret)
{
	_cleanup_(xml_doc_free_wipedp) xmlDoc *doc = NULL;
	_cleanup_(sts_creds_freep) struct sts_creds *c = NULL;
	_cleanup_free_ char *expiration = NULL;
	xmlNode *root, *result, *creds, *user;
	const char *ns = NULL;
	int r;

	assert(xml || len == 0);
	assert(ret);

	r = xml_parse(xml, len, STS_MAX_REPLY, &doc);
	if (r < 0)
		return r;
	root = reply_root(doc, "AssumeRoleWithSAMLResponse", NS_STS, NULL,
			  &ns);
	result = xml_child(root, ns, "AssumeRoleWithSAMLResult");
	creds = xml_child(result, ns, "Credentials");
	user = xml_child(result, ns, "AssumedRoleUser");
	if (!creds || !user)
		return -EBADMSG;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	r = required_text(creds, ns, "AccessKeyId", &c->access_key_id);
	if (r < 0)
		return r;
	r = required_secret(creds, ns, "SecretAccessKey",
			    &c->secret_access_key);
	if (r < 0)
		return r;
	r = required_secret(creds, ns, "SessionToken", &c->session_token);
	if (r < 0)
		return r;
	r = required_text(creds, ns, "Expiration", &expiration);
	if (r < 0)
		return r;
	/* STS may send fractional seconds; parse_iso8601 takes both. */
	if (parse_iso8601(expiration, &c->expiration) < 0)
		return -EBADMSG;

	r = required_text(user, ns, "Arn", &c->assumed_role_arn);
	if (r < 0)
		return r;
	r = optional_text(user, ns, "AssumedRoleId", &c->assumed_role_id);
	if (r < 0)
		return r;
	r = arn_account(c->assumed_role_arn, &c->account_id);
	if (r < 0)
		return r;

	*ret = TAKE_PTR(c);
	return 0;
}

int sts_xml_parse_error(const char *xml, size_t len, struct sts_error **ret)
{
	_cleanup_(xml_doc_freep) xmlDoc *doc = NULL;
	_cleanup_(sts_error_freep) struct sts_error *e = NULL;
	xmlNode *root, *err;
	const char *ns = NULL;
	int r;

	assert(xml || len == 0);
	assert(ret);

	r = xml_parse(xml, len, STS_MAX_REPLY, &doc);
	if (r < 0)
		return r;
	/* STS and IAM share the shape, each in its own namespace. */
	root = reply_root(doc, "ErrorResponse", NS_STS, NS_IAM, &ns);
	err = xml_child(root, ns, "Error");
	if (!err)
		return -EBADMSG;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	r = required_text(err, ns, "Code", &e->code);
	if (r < 0)
		return r;
	r = optional_text(err, ns, "Type", &e->type);
	if (r < 0)
		return r;
	r = optional_text(err, ns, "Message", &e->message);
	if (r < 0)
		return r;
	if (!e->message) {
		/* The header promises a message; an empty one is honest. */
		e->message = strdup("");
		if (!e->message)
			return -ENOMEM;
	}
	/* botocore reads RequestId beside Error; some services nest it. */
	r = optional_text(root, ns, "RequestId", &e->request_id);
	if (r < 0)
		return r;
	if (!e->request_id) {
		r = optional_text(err, ns, "RequestId", &e->request_id);
		if (r < 0)
			return r;
	}

	*ret = TAKE_PTR(e);
	return 0;
}

int sts_xml_parse_get_role(const char *xml, size_t len, uint32_t *ret)
{
	_cleanup_(xml_doc_freep) xmlDoc *doc = NULL;
	_cleanup_free_ char *t = NULL;
	xmlNode *root, *role;
	const char *ns = NULL;
	unsigned long v = 0;
	int r;

	assert(xml || len == 0);
	assert(ret);

	r = xml_parse(xml, len, STS_MAX_REPLY, &doc);
	if (r < 0)
		return r;
	root = reply_root(doc, "GetRoleResponse", NS_IAM, NULL, &ns);
	role = xml_child(xml_child(root, ns, "GetRoleResult"), ns, "Role");
	r = required_text(role, ns, "MaxSessionDuration", &t);
	if (r < 0)
		return r;
	for (const char *p = t; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EBADMSG;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > ROLE_MAX_SESSION_MAX)
			return -EBADMSG;
	}
	if (v < ROLE_MAX_SESSION_MIN)
		return -EBADMSG;
	*ret = (uint32_t)v;
	return 0;
}
