#include "http/ecs.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/guard.h"
#include "http/server.h"
#include "util/addr.h"
#include "util/log.h"
#include "util/timeutil.h"

static enum MHD_Result count_host(void *cls, enum MHD_ValueKind kind,
				  const char *key, const char *value)
{
	if (strcasecmp(key, "Host") == 0)
		(*(unsigned *)cls)++;
	return MHD_YES;
}

const char *http_guard_check(struct MHD_Connection *c)
{
	const char *host, *v;
	unsigned n_host = 0;

	/* MHD's lookup sees only the first Host; a second one could name
	 * anything (RFC 9112 3.2: such a request is invalid). */
	(void)MHD_get_connection_values(c, MHD_HEADER_KIND, count_host,
					&n_host);
	if (n_host > 1)
		return "more than one Host header";
	host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	if (host && !addr_host_port_is_loopback(host))
		return "the Host header does not name a loopback address";
	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin"))
		return "requests from web pages (Origin) are refused";
	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Referer"))
		return "requests from web pages (Referer) are refused";
	v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
	if (v && strcasecmp(v, "none") != 0 && strcasecmp(v, "same-origin") != 0)
		return "requests from web pages (Sec-Fetch-Site) are refused";
	return NULL;
}

static void release_creds(void *cls)
{
	creds_unref(cls);
}

static enum MHD_Result reply_creds(struct MHD_Connection *c, struct creds *cr)
{
	struct MHD_Response *resp;

	/* Zero-copy: MHD sends straight from the locked JSON and drops our
	 * reference when done, so a refresh meanwhile cannot free it. */
	resp = MHD_create_response_from_buffer_with_free_callback_cls(
		cr->ecs_json->len, cr->ecs_json->data, release_creds,
		creds_ref(cr));
	if (!resp)
		creds_unref(cr);
	return http_queue_json(c, MHD_HTTP_OK, resp);
}

/* Refusals count against the peer (GUARD_MAX_REFUSALS in a window). */
static enum MHD_Result refuse(struct ecs *e, struct MHD_Connection *c,
			      unsigned status, const char *code,
			      const char *why, const char *role)
{
	if (guard_refused(e->guard, c)) {
		guard_audit(c, "ecs", role, MHD_HTTP_TOO_MANY_REQUESTS, why);
		return http_reply_error(c, MHD_HTTP_TOO_MANY_REQUESTS,
					"Throttled",
					"too many refused requests; try again "
					"in a minute");
	}
	guard_audit(c, "ecs", role, status, why);
	return http_reply_error(c, status, code, why);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct ecs *e = cls;
	struct role_session *r;
	const char *why = NULL, *auth, *name;
	char msg[512];

	/* Wait for the whole request; ECS requests carry no body. */
	if (!*con_cls) {
		*con_cls = (void *)1;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (guard_check(e->guard, c, &why) == GUARD_REFUSE) {
		log_warning("ECS request for %s refused: %s", url, why);
		return refuse(e, c, MHD_HTTP_FORBIDDEN, "AccessDenied", why,
			      NULL);
	}
	if (strcmp(method, "GET") != 0)
		return refuse(e, c, MHD_HTTP_METHOD_NOT_ALLOWED,
			      "MethodNotAllowed", "only GET is served", NULL);
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (!auth || !secret_equal(e->token, auth, strlen(auth))) {
		log_warning("ECS request for %s refused: %s", url,
			    auth ? "wrong token" : "no Authorization header");
		return refuse(e, c, MHD_HTTP_FORBIDDEN, "AccessDenied",
			      "missing or wrong Authorization token; see "
			      "'adfs-credctl env'",
			      NULL);
	}

	if (streq(url, "/")) {
		r = store_default(e->store);
		name = r ? r->name : "(default)";
	} else if (strneq(url, "/role/", 6) && url[6]) {
		name = url + 6;
		r = store_find(e->store, name);
	} else {
		return refuse(e, c, MHD_HTTP_NOT_FOUND, "NoSuchRole",
			      "no such path; use /role/<name>", NULL);
	}
	if (!r && !e->store->signed_in && e->store->n_roles == 0) {
		/* Without roles: in the config, the roles are the ones the
		 * first assertion offers: until then nothing is known. */
		guard_audit(c, "ecs", name, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "not signed in");
		return http_reply_error(
			c, MHD_HTTP_SERVICE_UNAVAILABLE, "NotSignedIn",
			"adfs-credd is not signed in to ADFS; run "
			"'adfs-credctl login'");
	}
	if (!r) {
		(void)snprintf(msg, sizeof(msg),
			       "no role named '%.128s'; see 'adfs-credctl "
			       "status'",
			       name);
		return refuse(e, c, MHD_HTTP_NOT_FOUND, "NoSuchRole", msg, NULL);
	}
	if (role_has_valid_creds(r, now_wall())) {
		guard_audit_served(e->guard, c, "ecs", r->name);
		return reply_creds(c, r->creds);
	}
	if (!e->store->signed_in || r->state == ROLE_NOT_SIGNED_IN) {
		guard_audit(c, "ecs", r->name, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "not signed in");
		return http_reply_error(
			c, MHD_HTTP_SERVICE_UNAVAILABLE, "NotSignedIn",
			"adfs-credd is not signed in to ADFS; run "
			"'adfs-credctl login'");
	}
	(void)snprintf(msg, sizeof(msg),
		       "no valid credentials for role '%s'%s%.300s", r->name,
		       r->last_error ? ": " : "", strempty(r->last_error));
	guard_audit(c, "ecs", r->name, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "no valid credentials");
	return http_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				"CredentialsUnavailable", msg);
}

enum MHD_Result ecs_handle(void *cls, struct MHD_Connection *c,
			   const char *url, const char *method,
			   const char *version, const char *upload_data,
			   size_t *upload_data_size, void **con_cls)
{
	return http_answer_and_wipe(handle, "Authorization", cls, c, url, method,
				    version, upload_data, upload_data_size,
				    con_cls);
}
