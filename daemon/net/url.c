/* URL helpers on libcurl's URL API. */
#include "net/url.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "util/macro.h"

static void lowercase(char *s)
{
	for (char *p = s; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
}

static void curl_url_cleanupp(CURLU **u)
{
	curl_url_cleanup(*u);
}

static void curl_freep(char **p)
{
	curl_free(*p);
}

/* Parses url into a new handle (*ret_u) and reads its host as libcurl
 * writes it (*ret_host, for curl_free()). -EINVAL, -ENOMEM. */
static int parse_host(const char *url, CURLU **ret_u, char **ret_host)
{
	_cleanup_(curl_url_cleanupp) CURLU *u = NULL;
	_cleanup_(curl_freep) char *host = NULL;

	if (!url)
		return -EINVAL;
	u = curl_url();
	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		return -EINVAL;
	*ret_u = TAKE_PTR(u);
	*ret_host = TAKE_PTR(host);
	return 0;
}

int url_origin(const char *url, char **ret)
{
	_cleanup_(curl_url_cleanupp) CURLU *u = NULL;
	_cleanup_(curl_freep) char *scheme = NULL, *host = NULL, *port = NULL;
	char *o;
	int r;

	r = parse_host(url, &u, &host);
	if (r < 0)
		return r;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
		    CURLUE_OK)
		return -EINVAL;
	lowercase(host);
	if (asprintf(&o, "%s://%s:%s", scheme, host, port) < 0)
		return -ENOMEM;
	*ret = o;
	return 0;
}

int url_host(const char *url, char **ret)
{
	_cleanup_(curl_url_cleanupp) CURLU *u = NULL;
	_cleanup_(curl_freep) char *host = NULL;
	char *h;
	int r;

	r = parse_host(url, &u, &host);
	if (r < 0)
		return r;
	h = strdup(host);
	if (!h)
		return -ENOMEM;
	lowercase(h);
	*ret = h;
	return 0;
}

int url_authority(const char *url, char **ret)
{
	_cleanup_(curl_url_cleanupp) CURLU *u = NULL;
	_cleanup_(curl_freep) char *host = NULL, *port = NULL;
	char *v;
	int r;

	r = parse_host(url, &u, &host);
	if (r < 0)
		return r;
	/* Without CURLU_DEFAULT_PORT, a port is returned only when the URL
	 * names one. */
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && port)
		r = asprintf(&v, "%s:%s", host, port);
	else
		r = (v = strdup(host)) ? 0 : -1;
	if (r < 0)
		return -ENOMEM;
	*ret = v;
	return 0;
}

int url_escape(const char *s, size_t len, char **ret)
{
	_cleanup_(curl_freep) char *e = NULL;
	char *v;

	if (len > INT_MAX)
		return -E2BIG;
	/* libcurl takes no handle for escaping since 7.82.0. A length of 0
	 * means strlen(s) to libcurl, so the empty string is done here. */
	if (len == 0)
		v = strdup("");
	else {
		e = curl_easy_escape(NULL, s, (int)len);
		if (!e)
			return -ENOMEM;
		v = strdup(e);
		explicit_bzero(e, strlen(e));
	}
	if (!v)
		return -ENOMEM;
	*ret = v;
	return 0;
}
