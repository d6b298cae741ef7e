/* adfs-credd: sign in to ADFS once, hold AWS role sessions, serve them to
 * SDKs on loopback. See adfs-credd(8). */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>

#include "conf/conf.h"
#include "control/control.h"
#include "manager.h"
#include "util/log.h"
#include "util/wipe-alloc.h"
#include "util/xml.h"

static void help(void)
{
	printf("Usage: adfs-credd [-c PATH] [--check-config] [--version] "
	       "[--help]\n\n"
	       "Signs in to ADFS once, holds AWS role sessions and serves\n"
	       "them to AWS SDKs on loopback (ECS credentials endpoint).\n\n"
	       "  -c, --config PATH   configuration file (default\n"
	       "                      $XDG_CONFIG_HOME/adfs-credd/config.yaml)\n"
	       "      --check-config  validate the configuration and exit\n"
	       "      --version       print the version and exit\n"
	       "  -h, --help          print this help and exit\n\n"
	       "Then run 'adfs-credctl login'. See adfs-credd(8).\n");
}

/* Secrets must not end up in a core dump or be readable by ptrace from
 * processes of the same user that are not our parent. */
static void harden_process(void)
{
	struct rlimit rl = { 0, 0 };

	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &rl);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	_cleanup_(manager_freep) struct manager *m = NULL;
	struct control *ctl = NULL;
	_cleanup_free_ char *path = NULL;
	struct conf_errors errs = { 0 };
	struct conf *conf = NULL;
	bool check = false;
	sigset_t ss;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			free(path);
			path = strdup(optarg);
			break;
		case 'C':
			check = true;
			break;
		case 'V':
			printf("adfs-credd %s\n", ADFS_CREDD_VERSION);
			return EXIT_SUCCESS;
		case 'h':
			help();
			return EXIT_SUCCESS;
		default:
			return EXIT_FAILURE;
		}
	}
	if (optind < argc) {
		(void)fprintf(stderr, "adfs-credd: unexpected argument '%s'\n",
			      argv[optind]);
		return EXIT_FAILURE;
	}
	if (!path)
		path = conf_default_path();
	if (!path) {
		(void)fprintf(stderr,
			      "adfs-credd: cannot find a configuration: "
			      "set HOME or pass -c PATH\n");
		return EXIT_FAILURE;
	}

	harden_process();
	log_open("adfs-credd");
	wipe_alloc_install();
	xml_init();

	r = conf_load(path, &conf, &errs);
	if (r < 0) {
		conf_errors_print(&errs, stderr);
		conf_errors_clear(&errs);
		return EXIT_FAILURE;
	}
	if (check) {
		if (conf_warning(conf))
			(void)fprintf(stderr, "%s: warning: %s\n", path,
				      conf_warning(conf));
		printf("configuration OK\n");
		conf_free(conf);
		return EXIT_SUCCESS;
	}
	log_set_level(conf->log_level);

	if (wipe_alloc_curl_global_init() < 0) {
		log_error("Cannot initialise libcurl");
		conf_free(conf);
		return EXIT_FAILURE;
	}
	/* sd-event takes these through a signalfd. */
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	(void)sigprocmask(SIG_BLOCK, &ss, NULL);
	(void)signal(SIGPIPE, SIG_IGN);

	r = manager_new(conf, &m);
	if (r < 0) {
		log_error_errno(r, "Cannot start: %m");
		return EXIT_FAILURE;
	}
	r = manager_start(m);
	if (r < 0)
		return EXIT_FAILURE;
	r = control_new(m, manager_event(m), manager_state_dir(m), geteuid(),
			manager_take_control_fd(m), &ctl);
	if (r < 0)
		return EXIT_FAILURE;
	/* WatchdogSec= in the unit: the loop itself pings systemd. */
	r = sd_event_set_watchdog(manager_event(m), true);
	if (r < 0)
		log_warning_errno(r, "Cannot serve the systemd watchdog: %m");

	(void)sd_notify(0, "READY=1");
	r = manager_run(m);
	(void)sd_notify(0, "STOPPING=1");
	ctl = control_free(ctl);
	m = manager_free(m);
	curl_global_cleanup();
#if defined(__SANITIZE_ADDRESS__)
	/* LeakSanitizer needs to ptrace us at exit; every secret is wiped
	 * by now. Sanitizer builds only. */
	(void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
