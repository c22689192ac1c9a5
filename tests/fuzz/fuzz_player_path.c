/*
 * fuzz_player_path.c -- the viewer page's name rules and If-None-Match matcher
 * (edge/player.c) on arbitrary input.
 *
 * Input: the bytes after "/player/" in a request path, up to the first '\n' (a NUL
 * ends the path, as it does in httpd's request); what follows the '\n' is an
 * If-None-Match value. Checked: a mapped name obeys edge_player_name_check() (no "..",
 * no hidden file, no empty segment, only unreserved bytes), its length is the return
 * value, and mapping "/player/" + that name again gives the same name and root unless
 * the name began with "vendor/" (the root split is applied once); the matcher is total
 * and a tag always matches itself.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "miniobj.h"
#include "../../edge/player.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_PATH_MAX 1024

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[sizeof(PLAYER_PREFIX) + FUZZ_PATH_MAX], again[sizeof(path)];
    char name[EDGE_PLAYER_NAME_MAX + 1], name2[EDGE_PLAYER_NAME_MAX + 1];
    enum edge_player_root root, root2;
    size_t n = 0, pre = sizeof(PLAYER_PREFIX) - 1;
    char *inm;
    int rc, rc2;

    while (n < size && data[n] != '\n' && n < FUZZ_PATH_MAX)
        n++;
    memcpy(path, PLAYER_PREFIX, pre);
    memcpy(path + pre, data, n);
    path[pre + n] = '\0';
    rc = edge_player_map(path, name, sizeof(name), &root);
    if (rc >= 0) {
        assert(edge_player_name_check(name));
        assert((size_t)rc == strlen(name));
        assert(root == EDGE_PLAYER_ROOT_WEB || root == EDGE_PLAYER_ROOT_VENDOR);
        if (strncmp(name, PLAYER_VENDOR, sizeof(PLAYER_VENDOR) - 1) != 0) {
            memcpy(again, path, pre);
            memcpy(again + pre, name, (size_t)rc + 1);
            if (root == EDGE_PLAYER_ROOT_WEB) {
                rc2 = edge_player_map(again, name2, sizeof(name2), &root2);
                assert(rc2 == rc && root2 == root && strcmp(name, name2) == 0);
            }
        }
    } else {
        assert(rc == ERR_NOTFOUND || rc == ERR_PROTO || rc == ERR_LIMIT);
    }

    if (n < size) {
        inm = xmalloc(size - n);
        memcpy(inm, data + n + 1, size - n - 1);
        inm[size - n - 1] = '\0';
        (void)edge_player_etag_match(inm, "\"1-2-3\"");
        if (cache_etag_valid(inm, strlen(inm)))
            assert(edge_player_etag_match(inm, inm));
        xfree(inm);
    }
    return 0;
}
