/* libcurl's multi interface driven by the one sd_event loop: curl tells us
 * which sockets to watch and when to time out; we tell curl what happened.
 * No threads. One instance per daemon, owned by the manager. */
#pragma once

#include <curl/curl.h>
#include <systemd/sd-event.h>

#include "util/macro.h"

struct curl_glue;

/* Called once when a transfer ends; result is libcurl's. The easy handle
 * has been removed from the multi handle and belongs to the callee. */
typedef void (*curl_glue_done_fn)(CURL *easy, CURLcode result, void *userdata);

int curl_glue_new(sd_event *event, struct curl_glue **ret);
/* Cancels nothing: callers remove their transfers first. Accepts NULL. */
struct curl_glue *curl_glue_free(struct curl_glue *g);
DEFINE_FREEP(struct curl_glue, curl_glue_free)

/* Starts easy; done(easy, result, userdata) runs from the loop later.
 * Uses CURLOPT_PRIVATE of easy. */
int curl_glue_add(struct curl_glue *g, CURL *easy, curl_glue_done_fn done,
		  void *userdata);
/* Stops a running transfer without calling its done callback. */
void curl_glue_remove(struct curl_glue *g, CURL *easy);
