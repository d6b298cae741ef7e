/* adfs-credctl roles --names: the role names, one a line, for the shell
 * completion scripts (completions/). From the daemon when it answers (the
 * roles it holds, which without a roles: section are the assertion's),
 * else from the config's roles:. Nothing ever goes to stderr: a
 * completion runs at every Tab, and a message would land in the middle of
 * the command line being typed. See adfs-credctl(1). */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* A Tab must not hang on a daemon that is stuck. */
#define NAMES_TIMEOUT_SEC 3L

/* Prints the names of the roles the daemon reports (GET /v1/status);
 * returns how many, or a negative errno when it did not answer. */
static int daemon_names(const struct conf *c)
{
	json_t *o = NULL, *r;
	long status = 0;
	size_t i;
	int n = 0;

	/* Set here, cli_call() does not look for it (cli_locate() reports
	 * on stderr, and needs XDG_RUNTIME_DIR even when the config is
	 * enough). */
	free(cli_socket_path);
	cli_socket_path = NULL;
	if (cli_socket_for(c, &cli_socket_path) < 0)
		return -ENOENT;
	cli_call_timeout = NAMES_TIMEOUT_SEC;
	if (cli_call("GET", "/v1/status", NULL, NULL, &o, &status) < 0)
		return -ECONNREFUSED;
	if (status >= 200 && status <= 299) {
		cli_escape_tree(o);
		json_array_foreach(json_object_get(o, "roles"), i, r) {
			const char *name = cli_jstr(r, "name");

			if (name && *name) {
				printf("%s\n", name);
				n++;
			}
		}
	}
	json_decref(o);
	return n;
}

int cli_role_names(void)
{
	struct conf *c = NULL;
	int fd, r;

	/* First: conf_load and cli_call report on stderr. */
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)dup2(fd, STDERR_FILENO);
		(void)close(fd);
	}
	/* The config cli_locate() would load (its errors go to
	 * /dev/null). One that does not load leaves no way to know the
	 * socket or the roles. */
	if (cli_load_config(&c) < 0)
		return EXIT_FAILURE;
	r = daemon_names(c);
	if (r <= 0 && c)
		for (size_t i = 0; i < c->n_roles; i++)
			printf("%s\n", c->roles[i].name);
	r = r >= 0 || c ? EXIT_SUCCESS : EXIT_FAILURE;
	conf_free(c);
	return r;
}
