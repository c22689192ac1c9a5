/*
 * purge.h -- removing cached objects on request: `PURGE <target>` (one
 * URL and its Vary variants; with `Cascade-Purge: prefix`, every URL that
 * starts with the target's path) and `POST /admin/purge` with a JSON body
 * {"url": "/p"}, {"prefix": "/live/a/"}, or {"urls": [...], "prefixes":
 * [...]}.
 *
 * Both need `Authorization: Bearer <admin.token>`: no or another scheme
 * is 401 (with WWW-Authenticate), a wrong token 403, and with admin.token
 * empty the endpoints are off (403). The answer, {"purged": N}, is sent
 * once the store has removed the objects, so a GET right after misses.
 *
 * Not here: invalidation after unsafe methods (edge_fetch.c).
 */
#ifndef CASCADE_PURGE_H
#define CASCADE_PURGE_H

#include <stdbool.h>

#include "edge_int.h"

struct httpd_req;

/* admin: the request is POST /admin/purge (else the PURGE method). */
void purge_handle(struct edge_worker *w, struct httpd_req *r, bool admin);

#endif
