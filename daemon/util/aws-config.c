/* The AWS config file's adfs-credd block (util/aws-config.h). The file is
 * read the way botocore reads it (configparser: sections, "key = value"
 * or "key: value", indented continuations, whole-line # and ; comments),
 * which the Go and JS SDKs accept too; a line outside that is refused, as
 * the AWS CLI would refuse the file. */
#include "util/aws-config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/macro.h"
#include "util/text.h"

#define DIFF_CONTEXT 3u

/* Characters a --profile-prefix and a role name may hold (the config's
 * role names: conf_check_role_name). */
#define NAME_CHARS                                                           \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@+=-"

_printf_(3, 4) static int refuse(struct aws_config_error *err, unsigned line,
				 const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->line = line;
		va_start(ap, fmt);
		(void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return 0;
}

static bool fclose_ok(FILE *f)
{
	/* open_memstream reports a failed allocation at fclose. */
	return fclose(f) == 0;
}

bool aws_config_prefix_ok(const char *prefix)
{
	return strspn(prefix, NAME_CHARS) == strlen(prefix);
}

int aws_config_render(const struct aws_config_block *b, const char *eol,
		      char **ret, struct aws_config_error *err)
{
	_cleanup_free_ char *quoted = NULL;
	const char *prefix = strempty(b->prefix);
	char *out = NULL;
	size_t size = 0;
	FILE *f;

	if (!aws_config_prefix_ok(prefix))
		return refuse(err, 0, "--profile-prefix may hold only A-Z a-z "
				      "0-9 _ . @ + = -"),
		       -EINVAL;
	for (size_t i = 0; i < b->n_roles; i++) {
		const char *r = b->roles[i];

		/* credential-process would take "-x" for an option. */
		if (!*r || strspn(r, NAME_CHARS) != strlen(r) || *r == '-')
			return refuse(err, 0,
				      "role '%s' cannot name a profile: role "
				      "names for aws-config are A-Z a-z 0-9 _ "
				      ". @ + = -, not starting with '-'; "
				      "rename it in the config",
				      r),
			       -EINVAL;
	}
	if (b->config_path) {
		/* One line of INI: no control character survives it. */
		for (const char *p = b->config_path; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return refuse(err, 0,
					      "the config path has a control "
					      "character, which a line of "
					      "~/.aws/config cannot hold; "
					      "move the config"),
				       -EINVAL;
		/* botocore splits the command with shlex, the Go and JS
		 * SDKs run it with sh -c: POSIX single quotes suit both. */
		quoted = text_shell_quote(b->config_path);
		if (!quoted)
			return -ENOMEM;
	}
	f = open_memstream(&out, &size);
	if (!f)
		return -ENOMEM;
	(void)fprintf(f, "%s (adfs-credctl aws-config --write keeps this "
			 "block; edits inside it are replaced)%s",
		      AWS_CONFIG_BEGIN, eol);
	for (size_t i = 0; i < b->n_roles; i++) {
		if (i > 0)
			(void)fputs(eol, f);
		(void)fprintf(f, "[profile %s%s]%s", prefix, b->roles[i], eol);
		(void)fprintf(f, "credential_process = adfs-credctl %s%s%s"
				 "credential-process %s%s",
			      quoted ? "--config " : "", strempty(quoted),
			      quoted ? " " : "", b->roles[i], eol);
		if (b->region)
			(void)fprintf(f, "region = %s%s", b->region, eol);
	}
	(void)fprintf(f, "%s%s", AWS_CONFIG_END, eol);
	if (!fclose_ok(f)) {
		free(out);
		return -ENOMEM;
	}
	*ret = out;
	return 0;
}

/* One line of the file: [start, start + len) without its line end;
 * next is where the following line starts. */
struct line {
	const char *start;
	size_t len;
	size_t next;
	bool terminated; /* ends in \n */
};

static bool next_line(const char *text, size_t len, size_t at,
		      struct line *l)
{
	const char *nl;

	if (at >= len)
		return false;
	l->start = text + at;
	nl = memchr(l->start, '\n', len - at);
	l->terminated = nl != NULL;
	l->len = nl ? (size_t)(nl - l->start) : len - at;
	l->next = at + l->len + (nl ? 1 : 0);
	/* The \r of a CRLF is not content. */
	if (l->len > 0 && l->start[l->len - 1] == '\r')
		l->len--;
	return true;
}

/* A stray \r counts as white space: Python reads it as a line end. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool starts_with(const struct line *l, const char *p)
{
	size_t n = strlen(p);

	return l->len >= n && memcmp(l->start, p, n) == 0;
}

/* The profile a section header [s, s + n) names: "default", or the NAME
 * of "profile NAME" (quotes around NAME dropped, as botocore's shlex
 * does); NULL (not a profile) otherwise. *ret_len is its length. */
static const char *section_profile(const char *s, size_t n, size_t *ret_len)
{
	while (n > 0 && is_blank(*s))
		s++, n--;
	while (n > 0 && is_blank(s[n - 1]))
		n--;
	if (n == 7 && memcmp(s, "default", 7) == 0) {
		*ret_len = n;
		return s;
	}
	if (n < 8 || memcmp(s, "profile", 7) != 0 || !is_blank(s[7]))
		return NULL;
	s += 8, n -= 8;
	while (n > 0 && is_blank(*s))
		s++, n--;
	if (n >= 2 && (*s == '"' || *s == '\'') && s[n - 1] == *s)
		s++, n -= 2;
	*ret_len = n;
	return s;
}

/* Whether the profile [p, p + n) is one the block defines. */
static bool block_defines(const struct aws_config_block *b, const char *p,
			  size_t n)
{
	const char *prefix = strempty(b->prefix);
	size_t pl = strlen(prefix);

	if (n < pl || memcmp(p, prefix, pl) != 0)
		return false;
	for (size_t i = 0; i < b->n_roles; i++)
		if (strlen(b->roles[i]) == n - pl &&
		    memcmp(p + pl, b->roles[i], n - pl) == 0)
			return true;
	return false;
}

/* Where the block is: bytes [begin, end), begin_line its first line. */
struct found {
	bool present;
	size_t begin, end;
	unsigned begin_line;
};

/* Checks one line outside the block. in_section: a section header came
 * before it; after_block: the block came before it, with no section since
 * (a key there would belong to the block's last profile). Returns 0, or
 * the refusal's code with err filled. */
static int check_line(const struct line *l, unsigned no, bool *in_section,
		      bool after_block, const struct aws_config_block *b,
		      struct aws_config_error *err)
{
	const char *s = l->start, *name, *eq;
	size_t n = l->len, i = 0, k;

	while (i < n && is_blank(s[i]))
		i++;
	if (i == n || s[i] == '#' || s[i] == ';')
		return 0; /* blank or comment (indented ones too) */
	if (i == 0 && s[0] == '[') {
		while (n > 1 && is_blank(s[n - 1]))
			n--;
		if (n < 3 || s[n - 1] != ']')
			return refuse(err, no, "a section header must be "
					       "'[name]' alone on its line; "
					       "fix the line"),
			       -EBADMSG;
		name = section_profile(s + 1, n - 2, &k);
		if (name && block_defines(b, name, k))
			return refuse(err, no,
				      "profile '%.*s' is defined here and "
				      "also by the adfs-credd block: remove "
				      "it, or choose other profile names "
				      "with --profile-prefix",
				      (int)k, name),
			       -EEXIST;
		*in_section = true;
		return 0;
	}
	if (after_block)
		return refuse(err, no, "a line right after the adfs-credd "
				       "block, outside any section: it would "
				       "belong to the block's last profile; "
				       "put a [section] header before it"),
		       -EBADMSG;
	if (!*in_section)
		return refuse(err, no, "a line before any [section], which "
				       "the AWS CLI cannot read either: put "
				       "it in a section or delete it"),
		       -EBADMSG;
	if (i > 0)
		return 0; /* a continuation, or an indented key */
	eq = memchr(s, '=', n);
	name = memchr(s, ':', eq ? (size_t)(eq - s) : n);
	if (name)
		eq = name;
	if (!eq || eq == s)
		return refuse(err, no, "not a line of an INI file (a "
				       "[section], 'key = value', an indented "
				       "continuation, a # or ; comment, or "
				       "blank): fix or delete it"),
		       -EBADMSG;
	return 0;
}

/* Reads the file's lines: where the block is, and every refusal. */
static int scan(const char *text, size_t len, const struct aws_config_block *b,
		struct found *ret, struct aws_config_error *err)
{
	bool in_section = false, in_block = false, after_block = false;
	struct found f = { 0 };
	struct line l;
	unsigned no = 0;
	size_t at = 0;
	int r;

	for (; next_line(text, len, at, &l); at = l.next) {
		no++;
		if (starts_with(&l, AWS_CONFIG_BEGIN)) {
			if (in_block || f.present)
				return refuse(err, no,
					      "a second adfs-credd block "
					      "begins here (the first at "
					      "line %u): delete one of them "
					      "with its markers",
					      f.begin_line),
				       -EBADMSG;
			in_block = f.present = true;
			f.begin = at;
			f.begin_line = no;
			continue;
		}
		if (starts_with(&l, AWS_CONFIG_END)) {
			if (!in_block)
				return refuse(err, no,
					      "an end marker with no '%s' "
					      "line before it: delete the "
					      "line, or restore the block's "
					      "first line",
					      AWS_CONFIG_BEGIN),
				       -EBADMSG;
			in_block = false;
			/* The block's sections came before what follows. */
			after_block = in_section = true;
			f.end = l.next;
			continue;
		}
		if (in_block)
			continue; /* ours: replaced as a whole */
		r = check_line(&l, no, &in_section, after_block, b, err);
		if (r < 0)
			return r;
		if (l.len > 0 && l.start[0] == '[')
			after_block = false;
	}
	if (in_block)
		return refuse(err, f.begin_line,
			      "the adfs-credd block that begins here has no "
			      "'%s' line: restore it where the block ends, "
			      "or delete the rest of the block",
			      AWS_CONFIG_END),
		       -EBADMSG;
	*ret = f;
	return 0;
}

/* Whether the file's last line (ended or not) is blank. */
static bool ends_blank(const char *text, size_t len)
{
	size_t i = len;

	if (i > 0 && text[i - 1] == '\n')
		i--;
	if (i > 0 && text[i - 1] == '\r')
		i--;
	while (i > 0 && is_blank(text[i - 1]))
		i--;
	return i == 0 || text[i - 1] == '\n';
}

int aws_config_update(const char *text, size_t len,
		      const struct aws_config_block *b, char **ret,
		      size_t *ret_len, struct aws_config_error *err)
{
	_cleanup_free_ char *block = NULL;
	const char *eol = "\n", *nl;
	struct found f;
	char *out = NULL;
	size_t size = 0;
	FILE *o;
	int r;

	if (len > AWS_CONFIG_MAX_SIZE)
		return refuse(err, 0, "the file is over %u bytes: not an AWS "
				      "config file?",
			      AWS_CONFIG_MAX_SIZE),
		       -EFBIG;
	if (len > 0 && memchr(text, '\0', len))
		return refuse(err, 0, "the file holds a NUL byte: not an AWS "
				      "config file?"),
		       -EBADMSG;
	r = scan(text, len, b, &f, err);
	if (r < 0)
		return r;
	/* The block's lines end as the file's first line does, so that the
	 * next run chooses the same. With no line end in the file, the one
	 * added after its line is eol: CRLF when that line ends in \r (it
	 * would read as CRLF next time), else LF. */
	nl = len > 0 ? memchr(text, '\n', len) : NULL;
	if (nl ? nl > text && nl[-1] == '\r' : len > 0 && text[len - 1] == '\r')
		eol = "\r\n";
	r = aws_config_render(b, eol, &block, err);
	if (r < 0)
		return r;
	o = open_memstream(&out, &size);
	if (!o)
		return -ENOMEM;
	if (f.present) {
		(void)fwrite(text, 1, f.begin, o);
		(void)fputs(block, o);
		(void)fwrite(text + f.end, 1, len - f.end, o);
	} else {
		if (len > 0) {
			(void)fwrite(text, 1, len, o);
			if (text[len - 1] != '\n')
				(void)fputs(eol, o);
			if (!ends_blank(text, len))
				(void)fputs(eol, o);
		}
		(void)fputs(block, o);
	}
	if (!fclose_ok(o)) {
		free(out);
		return -ENOMEM;
	}
	*ret = out;
	*ret_len = size;
	return 0;
}

/* The lines of a text, each with its line end: starts[i]..starts[i+1]. */
struct lines {
	size_t *starts; /* n + 1 entries */
	size_t n;
};

static int split(const char *t, size_t len, struct lines *ret)
{
	size_t n = 0, k = 0;
	size_t *s;

	for (size_t i = 0; i < len; i++)
		if (t[i] == '\n')
			n++;
	if (len > 0 && t[len - 1] != '\n')
		n++;
	s = calloc(n + 1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++)
		if (t[i] == '\n')
			s[++k] = i + 1;
	s[n] = len;
	ret->starts = s;
	ret->n = n;
	return 0;
}

static bool same_line(const char *a, const struct lines *la, size_t i,
		      const char *b, const struct lines *lb, size_t j)
{
	size_t n = la->starts[i + 1] - la->starts[i];

	return n == lb->starts[j + 1] - lb->starts[j] &&
	       memcmp(a + la->starts[i], b + lb->starts[j], n) == 0;
}

static void put_line(FILE *f, char mark, const char *t, const struct lines *l,
		     size_t i)
{
	size_t a = l->starts[i], n = l->starts[i + 1] - a;

	(void)fputc(mark, f);
	(void)fwrite(t + a, 1, n, f);
	if (n == 0 || t[a + n - 1] != '\n')
		(void)fputs("\n\\ No newline at end of file\n", f);
}

/* "start,count" as diff -u writes it: the line before an empty range,
 * ",count" left out when it is 1. */
static void put_range(FILE *f, size_t first, size_t count)
{
	if (count == 1)
		(void)fprintf(f, "%zu", first + 1);
	else
		(void)fprintf(f, "%zu,%zu", count ? first + 1 : first, count);
}

int aws_config_diff(const char *old, size_t old_len, const char *new,
		    size_t new_len, const char *old_name, const char *new_name,
		    char **ret)
{
	struct lines a = { 0 }, b = { 0 };
	size_t pre = 0, suf = 0, ctx0, ctx1, size = 0;
	char *out = NULL;
	FILE *f = NULL;
	int r = -ENOMEM;

	if (split(old, old_len, &a) < 0 || split(new, new_len, &b) < 0)
		goto out;
	/* The block is one region: what differs lies between the common
	 * head and the common tail, and one hunk shows it. */
	while (pre < a.n && pre < b.n && same_line(old, &a, pre, new, &b, pre))
		pre++;
	while (suf < a.n - pre && suf < b.n - pre &&
	       same_line(old, &a, a.n - 1 - suf, new, &b, b.n - 1 - suf))
		suf++;
	f = open_memstream(&out, &size);
	if (!f)
		goto out;
	if (pre == a.n && pre == b.n)
		goto done;
	ctx0 = pre < DIFF_CONTEXT ? pre : DIFF_CONTEXT;
	ctx1 = suf < DIFF_CONTEXT ? suf : DIFF_CONTEXT;
	(void)fprintf(f, "--- %s\n+++ %s\n@@ -", old_name, new_name);
	put_range(f, pre - ctx0, a.n - pre - suf + ctx0 + ctx1);
	(void)fputs(" +", f);
	put_range(f, pre - ctx0, b.n - pre - suf + ctx0 + ctx1);
	(void)fputs(" @@\n", f);
	for (size_t i = pre - ctx0; i < pre; i++)
		put_line(f, ' ', old, &a, i);
	for (size_t i = pre; i < a.n - suf; i++)
		put_line(f, '-', old, &a, i);
	for (size_t i = pre; i < b.n - suf; i++)
		put_line(f, '+', new, &b, i);
	for (size_t i = a.n - suf; i < a.n - suf + ctx1; i++)
		put_line(f, ' ', old, &a, i);
done:
	r = 0;
	if (!fclose_ok(f)) {
		r = -ENOMEM;
		free(TAKE_PTR(out));
	}
	f = NULL;
	if (r == 0)
		*ret = TAKE_PTR(out);
out:
	if (f)
		(void)fclose(f);
	free(out);
	free(a.starts);
	free(b.starts);
	return r;
}
