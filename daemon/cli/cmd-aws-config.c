/* adfs-credctl aws-config: keeps the adfs-credd block of credential_process
 * profiles in the AWS config file. The text work is util/aws-config.c
 * (pure, unit-tested); this file finds the files, reads them, and writes
 * atomically with a backup. See adfs-credctl(1) and
 * docs/internals/aws-config.md. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/aws-config.h"
#include "util/buf.h"

/* --diff follows diff(1): 0 the same, 1 different, 2 trouble. */
#define DIFF_TROUBLE 2
#define BACKUP_SUFFIX ".adfs-credd.bak"

enum action { ACTION_NONE, ACTION_PRINT, ACTION_DIFF, ACTION_WRITE };

/* $HOME, else the passwd entry's home (as conf_default_path). */
static char *home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd pwbuf, *pw = NULL;
	char names[4096];

	if (h && *h)
		return strdup(h);
	if (getpwuid_r(getuid(), &pwbuf, names, sizeof(names), &pw) != 0 ||
	    !pw || !pw->pw_dir)
		return NULL;
	return strdup(pw->pw_dir);
}

/* The AWS config file: --file, else $AWS_CONFIG_FILE (with a leading ~/
 * expanded, as botocore does), else ~/.aws/config. */
static char *aws_config_path(const char *opt)
{
	_cleanup_free_ char *home = NULL;
	const char *e = getenv("AWS_CONFIG_FILE");
	char *p = NULL;

	if (opt)
		return strdup(opt);
	if (e && *e && !strneq(e, "~/", 2))
		return strdup(e);
	home = home_dir();
	if (!home)
		return NULL;
	if (e && *e)
		return asprintf(&p, "%s/%s", home, e + 2) < 0 ? NULL : p;
	return asprintf(&p, "%s/.aws/config", home) < 0 ? NULL : p;
}

/* Loads the adfs-credd config the way the other commands do
 * (cli_config_path: -c or $ADFS_CREDD_CONFIG; else the default).
 * *ret_line_path is the absolute path for the profiles' --config when one
 * was named, else NULL: a profile must reach the same daemon from any
 * directory. */
static int load_config(struct conf **ret, char **ret_line_path)
{
	_cleanup_free_ char *path = NULL, *line_path = NULL;
	struct conf_errors errs = { 0 };
	const char *given = cli_config_path;

	path = given ? strdup(given) : conf_default_path();
	if (!path)
		return cli_fail("cannot find the config: no home directory; "
				"pass -c PATH"),
		       -ENOENT;
	if (conf_load(path, ret, &errs) < 0) {
		conf_errors_print(&errs, stderr);
		conf_errors_clear(&errs);
		return -EINVAL;
	}
	if (given) {
		line_path = given[0] == '/' ? strdup(given)
					    : realpath(given, NULL);
		if (!line_path) {
			cli_fail("cannot resolve %s: %m", given);
			*ret = conf_free(*ret);
			return -ENOMEM;
		}
	}
	*ret_line_path = TAKE_PTR(line_path);
	return 0;
}

/* Reads the AWS config file at *path (a symlink is followed: *path
 * becomes its target, so a dotfiles link stays a link). *ret_exists
 * false, b empty, when there is none. */
static int read_aws_config(char **path, struct buf *b, bool *ret_exists,
			   mode_t *ret_mode)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	char *real;

	if (lstat(*path, &st) < 0) {
		if (errno != ENOENT)
			return cli_fail("cannot read %s: %m", *path), -errno;
		*ret_exists = false;
		return 0;
	}
	if (S_ISLNK(st.st_mode)) {
		real = realpath(*path, NULL);
		if (!real)
			return cli_fail("%s is a symlink to nothing readable "
					"(%m): fix or remove the link",
					*path),
			       -ENOENT;
		free(*path);
		*path = real;
	}
	fd = open(*path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0)
		return cli_fail("cannot read %s: %m", *path), -errno;
	if (!S_ISREG(st.st_mode))
		return cli_fail("%s is not a regular file", *path), -EINVAL;
	if (buf_read_fd(b, fd) < 0)
		return cli_fail("cannot read %s: %s", *path,
				b->overflow ? "over 1 MiB, not an AWS config "
					      "file?"
					    : strerror(errno)),
		       -EIO;
	*ret_exists = true;
	*ret_mode = st.st_mode & 07777;
	return 0;
}

/* Writes data to path through a temporary file in the same directory and
 * a rename: a reader (an SDK starting now) sees the old file or the new
 * one, never half of one. The file gets exactly mode. */
static int write_atomic(const char *path, const char *data, size_t len,
			mode_t mode)
{
	_cleanup_free_ char *tmp = NULL, *dcopy = NULL;
	_cleanup_close_ int fd = -1, dfd = -1;
	const char *dir;
	size_t done = 0;
	ssize_t n;

	dcopy = strdup(path);
	if (!dcopy || asprintf(&tmp, "%s.XXXXXX", path) < 0)
		return -ENOMEM;
	dir = dirname(dcopy);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0)
		goto fail;
	while (done < len) {
		n = write(fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		done += (size_t)n;
	}
	if (fsync(fd) < 0 || close(TAKE_FD(fd)) < 0)
		goto fail;
	if (rename(tmp, path) < 0)
		goto fail;
	/* The rename itself, on disk. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		(void)fsync(dfd);
	return 0;
fail:
	n = -errno;
	(void)unlink(tmp);
	return (int)n;
}

/* Creates the file's directory (0700, ~/.aws) when it is missing. */
static int make_parent(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	const char *dir;

	if (!copy)
		return -ENOMEM;
	dir = dirname(copy);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return cli_fail("cannot create %s: %m", dir), -errno;
	return 0;
}

static int do_write(const char *path, const struct buf *old, bool exists,
		    mode_t mode, const char *new, size_t new_len, size_t n)
{
	_cleanup_free_ char *backup = NULL;
	int r;

	if (exists && old->len == new_len &&
	    memcmp(old->data, new, new_len) == 0) {
		printf("%s is up to date (%zu profile%s); nothing written\n",
		       path, n, n == 1 ? "" : "s");
		return EXIT_SUCCESS;
	}
	/* The rename would replace a file its owner made read-only. */
	if (exists && access(path, W_OK) < 0)
		return cli_fail("%s is not writable (%m): make it writable, or "
				"write elsewhere with --file",
				path);
	if (exists) {
		/* The previous file, whole, with the same mode: what
		 * a user restores with mv if the new one is not wanted. */
		if (asprintf(&backup, "%s%s", path, BACKUP_SUFFIX) < 0)
			return cli_fail("out of memory");
		r = write_atomic(backup, old->data, old->len, mode);
		if (r < 0)
			return cli_fail("cannot write the backup %s: %s; %s "
					"left unchanged",
					backup, strerror(-r), path);
	} else {
		r = make_parent(path);
		if (r < 0)
			return EXIT_FAILURE;
		mode = 0600;
	}
	r = write_atomic(path, new, new_len, mode);
	if (r < 0)
		return cli_fail("cannot write %s: %s; it is unchanged", path,
				strerror(-r));
	printf("wrote %zu profile%s to %s", n, n == 1 ? "" : "s", path);
	if (backup)
		printf(" (the previous file is %s)", backup);
	putchar('\n');
	return EXIT_SUCCESS;
}

static int run(enum action action, const char *prefix, const char *file)
{
	/* --diff's trouble is 2, as diff(1)'s: 1 says "would change". */
	const int fail = action == ACTION_DIFF ? DIFF_TROUBLE : EXIT_FAILURE;
	_cleanup_free_ char *line_path = NULL, *path = NULL, *block = NULL,
			    *new = NULL, *diff = NULL, *old_name = NULL;
	_cleanup_(conf_freep) struct conf *c = NULL;
	_cleanup_free_ const char **roles = NULL;
	struct aws_config_error err = { 0 };
	struct aws_config_block b = { 0 };
	struct buf old;
	bool exists = false;
	mode_t mode = 0600;
	size_t new_len = 0;
	int r;

	if (load_config(&c, &line_path) < 0)
		return fail;
	if (c->n_roles == 0)
		return cli_fail("%s lists no roles: aws-config writes one "
				"profile per role of the config's roles: "
				"section, so that profile names stay the same "
				"across logins; add them there ('adfs-credctl "
				"roles' shows what ADFS offers)",
				c->path ? c->path : "the config"),
		       fail;
	roles = calloc(c->n_roles, sizeof(*roles));
	if (!roles)
		return cli_fail("out of memory"), fail;
	for (size_t i = 0; i < c->n_roles; i++)
		roles[i] = c->roles[i].name;
	b = (struct aws_config_block){
		.roles = roles,
		.n_roles = c->n_roles,
		.prefix = prefix,
		.config_path = line_path,
		.region = c->aws.region,
	};
	if (action == ACTION_PRINT) {
		r = aws_config_render(&b, "\n", &block, &err);
		if (r == -EINVAL)
			return cli_fail("%s", err.msg);
		if (r < 0)
			return cli_fail("out of memory");
		(void)fputs(block, stdout);
		return EXIT_SUCCESS;
	}
	path = aws_config_path(file);
	if (!path)
		return cli_fail("cannot find the AWS config file: no home "
				"directory; pass --file PATH"),
		       fail;
	buf_init(&old, AWS_CONFIG_MAX_SIZE);
	r = read_aws_config(&path, &old, &exists, &mode);
	if (r == 0) {
		/* Read: what goes wrong now is for this function to say. */
		r = aws_config_update(old.data, old.len, &b, &new, &new_len,
				      &err);
		if (r < 0 && err.msg[0] && err.line)
			cli_fail("%s:%u: %s; the file is unchanged", path,
				 err.line, err.msg);
		else if (r < 0 && err.msg[0])
			cli_fail("%s: %s; the file is unchanged", path,
				 err.msg);
		else if (r < 0)
			cli_fail("out of memory");
	}
	if (r < 0) {
		buf_clear(&old);
		return fail;
	}
	if (action == ACTION_WRITE) {
		r = do_write(path, &old, exists, mode, new, new_len,
			     c->n_roles);
		buf_clear(&old);
		return r;
	}
	old_name = exists ? strdup(path) : strdup("/dev/null");
	r = old_name ? aws_config_diff(old.data, old.len, new, new_len,
				       old_name, path, &diff)
		     : -ENOMEM;
	buf_clear(&old);
	if (r < 0)
		return cli_fail("out of memory"), DIFF_TROUBLE;
	(void)fputs(diff, stdout);
	return diff[0] ? 1 : EXIT_SUCCESS;
}

int cmd_aws_config(int argc, char **argv)
{
	static const struct option options[] = {
		{ "print", no_argument, NULL, 'p' },
		{ "diff", no_argument, NULL, 'd' },
		{ "write", no_argument, NULL, 'w' },
		{ "profile-prefix", required_argument, NULL, 'P' },
		{ "file", required_argument, NULL, 'f' },
		{}
	};
	static const char one[] = "one of --print, --diff or --write";
	enum action action = ACTION_NONE, a;
	const char *prefix = "", *file = NULL;
	int c;

	while ((c = cli_getopt(argc, argv, "", options)) >= 0) {
		switch (c) {
		case 'p':
		case 'd':
		case 'w':
			a = c == 'p' ? ACTION_PRINT
			    : c == 'd' ? ACTION_DIFF
				       : ACTION_WRITE;
			if (action != ACTION_NONE && action != a)
				return cli_usage_error("aws-config", "%s, not "
								     "two",
						       one);
			action = a;
			break;
		case 'P':
			if (!aws_config_prefix_ok(optarg))
				return cli_usage_error(
					"aws-config",
					"--profile-prefix may hold only A-Z "
					"a-z 0-9 _ . @ + = -, not '%s'",
					optarg);
			prefix = optarg;
			break;
		case 'f':
			if (!*optarg)
				return cli_usage_error("aws-config",
						       "--file needs a path");
			file = optarg;
			break;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_error("aws-config", "unexpected '%s'",
				       argv[optind]);
	if (action == ACTION_NONE)
		return cli_usage_error("aws-config", "%s is needed", one);
	return run(action, prefix, file);
}
