/* Safe libxml2 setup shared by every parser (SAML, STS/IAM replies, ADFS
 * pages). XML is parsed with no network, no DTD and no entity expansion:
 * a document with a DOCTYPE is refused before any declaration in it is
 * processed (XXE and billion-laughs defence). libxml2 never prints:
 * errors go to no-op handlers and the caller gets a negative errno.
 * See docs/internals/parsers.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>
#include <libxml/xmlmemory.h>

#include "util/macro.h"
#include "util/secret.h"

/* libxml2 strings are unsigned char; these convert without dropping const
 * (so -Wcast-qual stays quiet) and keep the casts in one place. */
static inline const xmlChar *XC(const char *s)
{
	return (const xmlChar *)s;
}

static inline const char *CC(const xmlChar *s)
{
	return (const char *)s;
}

static inline void xml_doc_freep(xmlDoc **p)
{
	if (*p)
		xmlFreeDoc(*p);
}

static inline void xml_char_freep(xmlChar **p)
{
	if (*p)
		xmlFree(*p);
}

/* Wipes every text and attribute value of doc, then frees it; accepts NULL.
 * For documents that held secrets (SAML, STS credentials); returns NULL. */
xmlDoc *xml_doc_free_wiped(xmlDoc *doc);
DEFINE_FREEP(xmlDoc, xml_doc_free_wiped)

/* Initialises libxml2 once and installs no-op error handlers so it never
 * writes to stderr. Idempotent; the parse functions call it too. */
void xml_init(void);

/* Parses an XML document from memory. -E2BIG when len > cap, -EBADMSG
 * when it is not well-formed, has a DOCTYPE (internal or external
 * subset) or entity declarations, -ENOMEM. *ret is owned by the caller
 * (free with xmlFreeDoc / xml_doc_freep). */
int xml_parse(const char *data, size_t len, size_t cap, xmlDoc **ret);

/* Parses an HTML page (UTF-8) with error recovery and no network; url may
 * be NULL. -E2BIG when len > cap, -EBADMSG when libxml2 produced no
 * document at all (e.g. empty input), -ENOMEM. *ret owned by the caller. */
int html_parse(const char *data, size_t len, size_t cap, const char *url,
	       xmlDoc **ret);

/* Whether n is an element with local name local in namespace ns (NULL:
 * the element must have no namespace). Names compare case-sensitively. */
bool xml_is(const xmlNode *n, const char *ns, const char *local);

/* The next element after cur in document order (pre-order) inside the
 * subtree of root, root itself excluded; cur == NULL starts at root's
 * first descendant. Iterative: no recursion on hostile nesting. */
xmlNode *xml_next_element(const xmlNode *root, const xmlNode *cur);

/* The first child element of parent matching xml_is(ns, local), or NULL. */
xmlNode *xml_child(const xmlNode *parent, const char *ns, const char *local);
/* The next sibling element after n matching xml_is(ns, local), or NULL. */
xmlNode *xml_next_sibling(const xmlNode *n, const char *ns, const char *local);
/* The first descendant element of root (document order) matching
 * xml_is(ns, local) after cur (NULL: from the start), or NULL. */
xmlNode *xml_find(const xmlNode *root, const xmlNode *cur, const char *ns,
		  const char *local);
/* The first element below root whose attribute "id" equals id, or NULL. */
xmlNode *xml_find_id(const xmlNode *root, const char *id);

/* The value of the un-namespaced attribute name of n, or NULL when it is
 * absent. Borrowed: valid while the document lives, when the value is a
 * single text node (always so without DTDs); otherwise NULL, use
 * xml_attr_dup(). Values are returned as written, untrimmed. */
const char *xml_attr(const xmlNode *n, const char *name);
/* Copies the attribute value into *ret (malloc'd, entity references
 * already decoded by the parser). -ENOENT when absent, -ENOMEM. */
int xml_attr_dup(const xmlNode *n, const char *name, char **ret);
/* Same, into a struct secret (e.g. an HTML SAMLResponse value). */
int xml_attr_secret(const xmlNode *n, const char *name, struct secret **ret);

/* The text content of n (all descendant text), with leading and trailing
 * ASCII whitespace removed, malloc'd into *ret. -ENOMEM. */
int xml_text_dup(const xmlNode *n, char **ret);
/* Same, into a struct secret; the intermediate copy is wiped. -ENOMEM. */
int xml_text_secret(const xmlNode *n, struct secret **ret);

/* Whether c is ASCII whitespace as XML and HTML define it. */
static inline bool xml_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* Removes leading and trailing ASCII whitespace in place; returns s. */
char *xml_strip(char *s);
