/* Messages at marks for one parse: "PATH:LINE:COL: message", collected
 * while the mapper and the checks run, sorted by position at the end (the
 * syntax pass, the keys and the checks across keys find them out of
 * order), and the record of which keys were given where. */
#include "conf/conf-private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The error list (conf.h) that a parse hands its messages to. */
void conf_errors_clear(struct conf_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	*errs = (struct conf_errors){ .n = 0 };
}

int conf_errors_add(struct conf_errors *errs, const char *fmt, ...)
{
	char *m = NULL;
	va_list ap;
	int r;

	if (!errs)
		return 0;
	va_start(ap, fmt);
	r = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (r < 0) {
		errs->dropped++;
		return -ENOMEM;
	}
	/* The same line twice (a file loaded twice into one list) says
	 * nothing new. */
	for (size_t i = 0; i < errs->n; i++)
		if (streq(errs->msgs[i], m)) {
			free(m);
			return 0;
		}
	if (errs->n >= CONF_MAX_ERRORS) {
		errs->dropped++;
		free(m);
		return 0;
	}
	errs->msgs[errs->n++] = m;
	return 0;
}

void conf_errors_print(const struct conf_errors *errs, FILE *f)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++)
		(void)fprintf(f, "%s\n", errs->msgs[i]);
	if (errs->dropped)
		(void)fprintf(f, "(%zu more errors not shown)\n", errs->dropped);
}

int conf_report_oom(struct conf_parse *p)
{
	p->r = -ENOMEM;
	return -ENOMEM;
}

void conf_report(struct conf_parse *p, struct conf_mark m, const char *fmt,
		 ...)
{
	char msg[1024], *s;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->n_errors++;
	if (asprintf(&s, "%s:%zu:%zu: %s", p->path, m.line + 1, m.column + 1,
		     msg) < 0) {
		p->r = -ENOMEM;
		return;
	}
	/* The same complaint at the same place twice says nothing new. */
	for (size_t i = 0; i < p->n_pending; i++)
		if (streq(p->pending[i].msg, s)) {
			free(s);
			return;
		}
	if (p->n_pending >= CONF_MAX_ERRORS) {
		p->dropped++;
		free(s);
		return;
	}
	p->pending[p->n_pending] = (struct conf_pending){
		.line = m.line,
		.column = m.column,
		.seq = p->n_pending,
		.msg = s,
	};
	p->n_pending++;
}

const char *conf_report_quote(char buf[static CONF_QUOTE_BUF], const char *s,
			      size_t len)
{
	size_t o = 0, n = len;

	if (n > CONF_QUOTE_MAX) {
		n = CONF_QUOTE_MAX;
		/* Do not split a UTF-8 sequence. */
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, CONF_QUOTE_BUF - o,
					      "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (n < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

const char *conf_report_got(char buf[static CONF_QUOTE_BUF],
			    const struct conf_value *v)
{
	char q[CONF_QUOTE_BUF];

	switch (v->kind) {
	case CONF_KIND_LIST:
		return "a list";
	case CONF_KIND_MAP:
		return "a mapping";
	case CONF_KIND_SCALAR:
		(void)snprintf(buf, CONF_QUOTE_BUF, "'%s'",
			       conf_report_quote(q, v->text, v->len));
		return buf;
	default:
		return "nothing";
	}
}

static void report_text(struct conf_parse *p, struct conf_mark m,
			const char *name, const char *text, size_t len,
			const char *problem)
{
	char q[CONF_QUOTE_BUF];

	conf_report(p, m, "%s %s (got '%s')", name, problem,
		    conf_report_quote(q, text, len));
}

void conf_report_value(struct conf_parse *p, const char *name,
		       const struct conf_value *v, const char *problem)
{
	report_text(p, v->mark, name, v->text, v->len, problem);
}

void conf_report_given(struct conf_parse *p, const struct conf_given *g,
		       const char *problem)
{
	report_text(p, g->value, g->name, g->text ? g->text : "",
		    g->text ? g->len : 0, problem);
}

void conf_report_given_add(struct conf_parse *p, const char *name,
			   struct conf_mark key, const struct conf_value *v)
{
	struct conf_given *g;

	if (p->n_given >= CONF_MAX_MARKS)
		return; /* cannot happen: the tables hold fewer keys */
	g = &p->given[p->n_given];
	*g = (struct conf_given){
		.key = key,
		.value = v->mark,
		.kind = v->kind,
	};
	(void)snprintf(g->name, sizeof(g->name), "%s", name);
	if (v->kind == CONF_KIND_SCALAR) {
		g->text = malloc(v->len + 1);
		if (!g->text) {
			(void)conf_report_oom(p);
			return;
		}
		memcpy(g->text, v->text, v->len);
		g->text[v->len] = '\0';
		g->len = v->len;
	}
	p->n_given++;
}

const struct conf_given *conf_report_given_find(const struct conf_parse *p,
						const char *name)
{
	for (size_t i = 0; i < p->n_given; i++)
		if (streq(p->given[i].name, name))
			return &p->given[i];
	return NULL;
}

static int pending_cmp(const void *a, const void *b)
{
	const struct conf_pending *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void conf_report_finish(struct conf_parse *p)
{
	qsort(p->pending, p->n_pending, sizeof(p->pending[0]), pending_cmp);
	for (size_t i = 0; i < p->n_pending; i++) {
		if (conf_errors_add(p->errs, "%s", p->pending[i].msg) < 0)
			p->r = -ENOMEM;
		free(p->pending[i].msg);
	}
	p->n_pending = 0;
	if (p->errs)
		p->errs->dropped += p->dropped;
	for (size_t i = 0; i < p->n_given; i++)
		free(p->given[i].text);
	p->n_given = 0;
}
