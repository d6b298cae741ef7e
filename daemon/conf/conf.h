/* The configuration: INTERFACE.md "Config (YAML)" parsed into a plain
 * struct. conf_parse_yaml() is pure (bytes in, struct out, no I/O, no
 * environment) so it can be fuzzed; conf_load() reads the file. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "util/macro.h"

#define CONF_MAX_SIZE (64u * 1024u) /* bytes of YAML */
#define CONF_MAX_ROLES 256u
#define CONF_MAX_UIDS 64u
#define CONF_MAX_ERRORS 64u
#define CONF_MAX_STRING 4096u /* bytes in any one value */

#define CONF_DEFAULT_RELYING_PARTY "urn:amazon:webservices"
#define CONF_DEFAULT_STS_ENDPOINT "https://sts.amazonaws.com"
#define CONF_DEFAULT_IAM_ENDPOINT "https://iam.amazonaws.com"
#define CONF_DEFAULT_ECS_LISTEN "127.0.0.1:9911"
#define CONF_DEFAULT_TIMEOUT (30 * USEC_PER_SEC)
#define CONF_DEFAULT_MIN_REMAINING (30 * USEC_PER_MINUTE)
/* AD FS's WebSsoLifetime default (480 minutes). */
#define CONF_DEFAULT_SSO_LIFETIME (8 * USEC_PER_HOUR)
#define CONF_DEFAULT_NOTIFY_BEFORE (30 * USEC_PER_MINUTE)

/* Session durations STS accepts (AssumeRoleWithSAML DurationSeconds). */
#define CONF_DURATION_MIN 900u
#define CONF_DURATION_MAX 43200u

enum conf_auth {
	CONF_AUTH_FORMS,
	CONF_AUTH_KERBEROS,
	CONF_AUTH_WSTRUST,
};

/* What a renewal does when ADFS asks for a second factor. */
enum conf_mfa_renewal {
	CONF_MFA_RENEWAL_NOTIFY, /* tell the user; adfs-credctl login completes it */
	CONF_MFA_RENEWAL_PUSH,   /* start one Azure MFA push, number in the notification */
};

enum conf_password {
	CONF_PASSWORD_PROMPT,     /* adfs-credctl login */
	CONF_PASSWORD_CREDENTIAL, /* $CREDENTIALS_DIRECTORY/<ref> */
	CONF_PASSWORD_FILE,       /* <ref>, must be mode 0600 */
};

/* A listener: "host:port", "[v6]:port" or "off". */
struct conf_listen {
	bool enabled;
	char *host; /* as written, without brackets: "127.0.0.1", "::1", "localhost" */
	uint16_t port;
};

struct conf_role {
	char *name;          /* required */
	char *arn;           /* required: arn:aws[-partition]:iam::<12 digits>:role/... */
	char *principal_arn; /* optional: ...:saml-provider/...; NULL = from the assertion */
	uint32_t duration;   /* seconds in 900..43200, or 0 for "max" */
};

struct conf {
	char *path; /* file it was read from (for messages); may be NULL */

	struct {
		char *url;           /* https only, no query/fragment */
		char *relying_party; /* default CONF_DEFAULT_RELYING_PARTY */
		char *username;      /* required unless auth is kerberos */
		enum conf_auth auth;
		enum conf_password password;
		char *password_ref;  /* NAME for credential:, PATH for file:, else NULL */
		bool remember_password;
		char *ca_file;       /* NULL = system trust only */
		usec_t timeout;      /* default 30 s; 1 s .. 10 min */
		/* How long an ADFS SSO session lasts after a password
		 * sign-in (AD FS WebSsoLifetime); default 8 h, 1 min .. 90 d */
		usec_t sso_lifetime;
		bool keep_me_signed_in; /* send Kmsi=true (forms only) */
		enum conf_mfa_renewal mfa_on_renewal;
	} adfs;

	struct {
		char *region;        /* NULL when unset */
		char *sts_endpoint;  /* always set after parsing: override, regional or global */
		char *iam_endpoint;  /* always set after parsing */
		char *ca_file;
	} aws;

	struct conf_role *roles; /* NULL/0 when the key is absent: hold every role offered */
	size_t n_roles;

	char *default_role;      /* NULL = first role */

	struct {
		struct conf_listen ecs;  /* default 127.0.0.1:9911 */
		struct conf_listen imds; /* default off */
		char *imds_role;         /* NULL = default_role */
		uid_t *allowed_uids;
		size_t n_allowed_uids;
		bool allow_non_loopback;
		/* IMDS has no secret: peers on other hosts are refused there
		 * unless this is true (ECS, with its token, is theirs) */
		bool imds_for_remote_peers;
	} serve;

	struct {
		usec_t min_remaining; /* default 30 min; 1 min .. 6 h */
	} refresh;

	struct {
		usec_t before;  /* warn this long before a human is needed;
				 * default 30 min, 1 min .. 24 h */
		bool desktop;   /* org.freedesktop.Notifications; default true */
		char *command;  /* absolute path run on each event; NULL: none */
	} notify;

	char *state_dir; /* NULL = $XDG_RUNTIME_DIR/adfs-credd, resolved by the caller */
	int log_level;   /* LOG_ERR, LOG_WARNING, LOG_INFO (default) or LOG_DEBUG */
};

/* One "PATH:LINE:COL: message" per entry. */
struct conf_errors {
	char *msgs[CONF_MAX_ERRORS];
	size_t n;
	size_t dropped; /* errors beyond CONF_MAX_ERRORS */
};

/* Parses len bytes of YAML. path is used only in messages. Returns 0 and
 * a new conf (owned by the caller) in *ret, or -EINVAL with every problem
 * collected in errs (which the caller clears with conf_errors_clear).
 * Other negative errno on allocation failure. */
int conf_parse_yaml(const char *path, const char *data, size_t len,
		    struct conf **ret, struct conf_errors *errs);
/* Reads path (at most CONF_MAX_SIZE bytes; NULL: conf_default_path())
 * and parses it. A file that cannot be read is reported in errs as
 * "PATH: message" and returns the read error (-ENOENT, -EACCES, -EISDIR,
 * -EFBIG when too large); otherwise as conf_parse_yaml. */
int conf_load(const char *path, struct conf **ret, struct conf_errors *errs);
/* The default config path: $XDG_CONFIG_HOME/adfs-credd/config.yaml, else
 * $HOME/.config/adfs-credd/config.yaml (the passwd entry's home when $HOME
 * is unset). Caller frees; NULL with errno set on ENOMEM or when there is
 * no home directory at all (ENOENT). */
char *conf_default_path(void);

/* The warning a configuration deserves though it is valid: NULL, or a
 * sentence (static) for serve.imds_for_remote_peers, which serves IMDS,
 * which has no secret, to other hosts. adfs-credd --check-config prints it
 * and the daemon logs it. */
const char *conf_warning(const struct conf *c);

/* Looks up a configured role by name; NULL when absent. */
const struct conf_role *conf_find_role(const struct conf *c, const char *name);

struct conf *conf_free(struct conf *c);
DEFINE_FREEP(struct conf, conf_free)
void conf_errors_clear(struct conf_errors *errs);
void conf_errors_print(const struct conf_errors *errs, FILE *f);
/* Appends one formatted line to errs (errs may be NULL); identical lines
 * are kept once, lines past CONF_MAX_ERRORS are counted in dropped.
 * -ENOMEM when the line cannot be allocated. */
int conf_errors_add(struct conf_errors *errs, const char *fmt, ...)
	_printf_(2, 3);

/* Value checks shared by the YAML parser and anyone taking the same values
 * elsewhere. Each returns NULL when s is acceptable, else a static phrase
 * to follow the key name ("must be an https:// URL"). */
const char *conf_check_https_url(const char *s);
const char *conf_check_region(const char *s);
const char *conf_check_role_name(const char *s);
const char *conf_check_role_arn(const char *s);
const char *conf_check_provider_arn(const char *s);
const char *conf_check_listen(const char *s); /* "off" is acceptable */

/* Parses "off", "host:port" or "[v6]:port" into *ret (ret owns the host;
 * conf_listen_clear frees it). -EINVAL when conf_check_listen objects,
 * -ENOMEM. */
int conf_parse_listen(const char *s, struct conf_listen *ret);
void conf_listen_clear(struct conf_listen *l);
