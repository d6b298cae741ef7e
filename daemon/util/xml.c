#include "util/xml.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/dict.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>

/* XML_PARSE_NOENT (entity substitution), XML_PARSE_DTDLOAD, DTDATTR and
 * HUGE are never set: no entity is expanded, no DTD is read and libxml2's
 * default size and depth limits stay on. NOCDATA merges CDATA into text so
 * text lookups see one node. */
#define XML_OPTIONS                                                          \
	(XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |         \
	 XML_PARSE_NOCDATA)
#define HTML_OPTIONS                                                         \
	(HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |      \
	 HTML_PARSE_RECOVER)

static bool initialized;

static void generic_error_noop(void *ctx, const char *msg, ...)
{
}

static void structured_error_noop(void *ctx, xmlError *error)
{
}

void xml_init(void)
{
	if (initialized)
		return;
	xmlInitParser();
	/* Without these, libxml2 prints some errors (those raised outside a
	 * parser context, e.g. by the URI or encoding code) to stderr. The
	 * ThrDef variants cover threads created later. */
	xmlSetGenericErrorFunc(NULL, generic_error_noop);
	xmlThrDefSetGenericErrorFunc(NULL, generic_error_noop);
	xmlSetStructuredErrorFunc(NULL, structured_error_noop);
	xmlThrDefSetStructuredErrorFunc(NULL, structured_error_noop);
	initialized = true;
}

/* Parse state reachable from the SAX hooks through ctxt->_private. */
struct guard {
	bool saw_dtd;
};

/* Called for "<!DOCTYPE ...>", with or without an internal subset and
 * before any declaration in it is read. Stopping here means no entity
 * declaration is ever registered, so nothing can be expanded later. */
static void on_internal_subset(void *ctx, const xmlChar *name,
			       const xmlChar *external_id,
			       const xmlChar *system_id)
{
	xmlParserCtxt *ctxt = ctx;
	struct guard *g = ctxt->_private;

	g->saw_dtd = true;
	xmlStopParser(ctxt);
}

static void on_external_subset(void *ctx, const xmlChar *name,
			       const xmlChar *external_id,
			       const xmlChar *system_id)
{
	on_internal_subset(ctx, name, external_id, system_id);
}

static void on_entity_decl(void *ctx, const xmlChar *name, int type,
			   const xmlChar *public_id, const xmlChar *system_id,
			   xmlChar *content)
{
	on_internal_subset(ctx, name, public_id, system_id);
}

static int ctxt_errno(const xmlParserCtxt *ctxt, int fallback)
{
	if (ctxt->lastError.code == XML_ERR_NO_MEMORY)
		return -ENOMEM;
	return fallback;
}

int xml_parse(const char *data, size_t len, size_t cap, xmlDoc **ret)
{
	struct guard g = { 0 };
	xmlParserCtxt *ctxt;
	xmlDoc *doc;
	int r;

	assert(data || len == 0);
	assert(ret);

	if (len > cap || len > INT_MAX)
		return -E2BIG;
	if (len == 0)
		return -EBADMSG;
	xml_init();

	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		return -ENOMEM;
	ctxt->_private = &g;
	/* The context owns a private copy of the SAX handler table, so this
	 * changes nothing for other parses. */
	ctxt->sax->internalSubset = on_internal_subset;
	ctxt->sax->externalSubset = on_external_subset;
	ctxt->sax->entityDecl = on_entity_decl;

	doc = xmlCtxtReadMemory(ctxt, data, (int)len, NULL, NULL, XML_OPTIONS);
	if (g.saw_dtd || (doc && (doc->intSubset || doc->extSubset))) {
		r = -EBADMSG;
		goto fail;
	}
	if (!doc || !ctxt->wellFormed || !xmlDocGetRootElement(doc)) {
		r = ctxt_errno(ctxt, -EBADMSG);
		goto fail;
	}
	xmlFreeParserCtxt(ctxt);
	*ret = doc;
	return 0;

fail:
	xmlFreeParserCtxt(ctxt);
	(void)xml_doc_free_wiped(doc);
	return r;
}

int html_parse(const char *data, size_t len, size_t cap, const char *url,
	       xmlDoc **ret)
{
	htmlParserCtxt *ctxt;
	xmlDoc *doc;
	int r;

	assert(data || len == 0);
	assert(ret);

	if (len > cap || len > INT_MAX)
		return -E2BIG;
	if (len == 0)
		return -EBADMSG;
	xml_init();

	ctxt = htmlNewParserCtxt();
	if (!ctxt)
		return -ENOMEM;
	/* ADFS serves UTF-8 (Content-Type and meta charset); naming it here
	 * avoids libxml2's ISO-8859-1 default for pages without a meta tag. */
	doc = htmlCtxtReadMemory(ctxt, data, (int)len, url, "UTF-8",
				 HTML_OPTIONS);
	if (!doc) {
		r = ctxt_errno(ctxt, -EBADMSG);
		htmlFreeParserCtxt(ctxt);
		return r;
	}
	htmlFreeParserCtxt(ctxt);
	*ret = doc;
	return 0;
}

/* The next node after cur in pre-order inside the subtree of root (root
 * excluded). Descends only into elements and documents: an entity
 * reference's children belong to its declaration, not to the tree. */
static xmlNode *next_node(const xmlNode *root, const xmlNode *cur)
{
	if (cur->children &&
	    (cur->type == XML_ELEMENT_NODE || cur->type == XML_DOCUMENT_NODE ||
	     cur->type == XML_HTML_DOCUMENT_NODE))
		return cur->children;
	while (cur && cur != root) {
		if (cur->next)
			return cur->next;
		cur = cur->parent;
	}
	return NULL;
}

/* Wipes a string libxml2 allocated for one node. Strings in the document
 * dictionary are shared (and hashed), so they are left alone; short ones
 * stored inside the node are wiped like the rest. */
static void wipe_content(xmlDoc *doc, xmlChar *s)
{
	if (!s)
		return;
	if (doc->dict && xmlDictOwns(doc->dict, s) == 1)
		return;
	explicit_bzero(s, strlen(CC(s)));
}

static bool is_text(const xmlNode *n)
{
	return n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE;
}

xmlDoc *xml_doc_free_wiped(xmlDoc *doc)
{
	const xmlNode *root = (xmlNode *)doc;

	if (!doc)
		return NULL;
	for (xmlNode *n = next_node(root, root); n; n = next_node(root, n)) {
		if (is_text(n) || n->type == XML_COMMENT_NODE)
			wipe_content(doc, n->content);
		else if (n->type == XML_ELEMENT_NODE)
			for (xmlAttr *a = n->properties; a; a = a->next)
				for (xmlNode *t = a->children; t; t = t->next)
					if (is_text(t))
						wipe_content(doc, t->content);
	}
	xmlFreeDoc(doc);
	return NULL;
}

bool xml_is(const xmlNode *n, const char *ns, const char *local)
{
	if (!n || n->type != XML_ELEMENT_NODE || !n->name)
		return false;
	if (!streq(CC(n->name), local))
		return false;
	if (!ns)
		return !n->ns || !n->ns->href;
	return n->ns && n->ns->href && streq(CC(n->ns->href), ns);
}

xmlNode *xml_next_element(const xmlNode *root, const xmlNode *cur)
{
	xmlNode *n;

	assert(root);
	n = next_node(root, cur ? cur : root);
	while (n && n->type != XML_ELEMENT_NODE)
		n = next_node(root, n);
	return n;
}

xmlNode *xml_child(const xmlNode *parent, const char *ns, const char *local)
{
	if (!parent)
		return NULL;
	for (xmlNode *c = parent->children; c; c = c->next)
		if (xml_is(c, ns, local))
			return c;
	return NULL;
}

xmlNode *xml_next_sibling(const xmlNode *n, const char *ns, const char *local)
{
	if (!n)
		return NULL;
	for (xmlNode *c = n->next; c; c = c->next)
		if (xml_is(c, ns, local))
			return c;
	return NULL;
}

xmlNode *xml_find(const xmlNode *root, const xmlNode *cur, const char *ns,
		  const char *local)
{
	xmlNode *n;

	if (!root)
		return NULL;
	for (n = xml_next_element(root, cur); n; n = xml_next_element(root, n))
		if (xml_is(n, ns, local))
			return n;
	return NULL;
}

xmlNode *xml_find_id(const xmlNode *root, const char *id)
{
	xmlNode *n = NULL;

	if (!root)
		return NULL;
	while ((n = xml_next_element(root, n))) {
		const char *v = xml_attr(n, "id");

		if (v && streq(v, id))
			return n;
	}
	return NULL;
}

static const xmlAttr *attr_find(const xmlNode *n, const char *name)
{
	if (!n || n->type != XML_ELEMENT_NODE)
		return NULL;
	for (const xmlAttr *a = n->properties; a; a = a->next)
		if (!a->ns && a->name && streq(CC(a->name), name))
			return a;
	return NULL;
}

const char *xml_attr(const xmlNode *n, const char *name)
{
	const xmlAttr *a = attr_find(n, name);

	if (!a)
		return NULL;
	if (!a->children)
		return "";
	if (a->children->next || a->children->type != XML_TEXT_NODE ||
	    !a->children->content)
		return NULL;
	return CC(a->children->content);
}

/* Appends the text of the nodes of a sibling list (descending into
 * elements when deep) to out, or only counts when out is NULL. */
static size_t gather_text(const xmlNode *first, bool deep, char *out)
{
	size_t len = 0;

	for (const xmlNode *s = first; s; s = s->next) {
		const xmlNode *n = s;

		do {
			if (is_text(n) && n->content) {
				size_t l = strlen(CC(n->content));

				if (out)
					memcpy(out + len, n->content, l);
				len += l;
			}
			if (!deep)
				break;
			n = next_node(s, n);
		} while (n);
	}
	if (out)
		out[len] = '\0';
	return len;
}

/* Text of a sibling list, trimmed when asked, into malloc'd (ret) or
 * secret (ret_secret) storage. */
static int text_collect(const xmlNode *first, bool deep, bool trim,
			char **ret, struct secret **ret_secret)
{
	size_t len = gather_text(first, deep, NULL);
	struct secret *s;
	char *buf;

	/* Bounded by the document size, which is capped far below SIZE_MAX. */
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	(void)gather_text(first, deep, buf);
	if (trim)
		(void)xml_strip(buf);
	if (!ret_secret) {
		*ret = buf;
		return 0;
	}
	s = secret_new_from(buf, strlen(buf));
	/* Stripping leaves stale bytes after the NUL: wipe all of it. */
	explicit_bzero(buf, len + 1);
	free(buf);
	if (!s)
		return -ENOMEM;
	*ret_secret = s;
	return 0;
}

int xml_attr_dup(const xmlNode *n, const char *name, char **ret)
{
	const xmlAttr *a = attr_find(n, name);

	assert(ret);
	if (!a)
		return -ENOENT;
	/* Attribute children are text nodes only (no DTD: no entity
	 * references survive). Values are kept as they are, untrimmed. */
	return text_collect(a->children, false, false, ret, NULL);
}

int xml_attr_secret(const xmlNode *n, const char *name, struct secret **ret)
{
	const xmlAttr *a = attr_find(n, name);

	assert(ret);
	if (!a)
		return -ENOENT;
	return text_collect(a->children, false, false, NULL, ret);
}

char *xml_strip(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n > 0 && xml_is_space(s[n - 1]))
		n--;
	while (i < n && xml_is_space(s[i]))
		i++;
	if (i > 0)
		memmove(s, s + i, n - i);
	s[n - i] = '\0';
	return s;
}

int xml_text_dup(const xmlNode *n, char **ret)
{
	assert(n);
	assert(ret);
	return text_collect(n->children, true, true, ret, NULL);
}

int xml_text_secret(const xmlNode *n, struct secret **ret)
{
	assert(n);
	assert(ret);
	return text_collect(n->children, true, true, NULL, ret);
}
