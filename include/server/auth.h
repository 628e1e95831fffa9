/*
 * server/auth.h - Basic authentication, the runtime half: the --auth-file
 * table, libcrypt, and each worker's cache of recent successful checks.
 *
 * DESIGN
 * The table (users and their hashes) is read at start-up by main, before
 * privileges are dropped, and again on SIGHUP by the event thread
 * (ws_auth_reload); a file that is refused on reload leaves the old table in
 * use. A read-write lock guards the table pointer: a worker holds the read
 * lock only while it copies one hash (and the generation) out, never across
 * crypt; reload builds the new table outside the lock and holds the write
 * lock only to swap the pointer and bump the generation. There is no other
 * lock here, so no lock order.
 *
 * A check runs crypt_rn (libxcrypt, reentrant: each worker has its own
 * struct crypt_data) on the password and the user's hash, and compares with
 * CRYPTO_memcmp. An unknown user is checked against a dummy hash of the
 * table (its first user's), so it costs what a known one costs and the
 * answer does not tell users apart. Since bcrypt costs tens of milliseconds
 * by design, a successful check is remembered by the worker for
 * WS_AUTH_CACHE_SECS, keyed by SHA-256 of a per-process random salt and the
 * exact "user:password" bytes (compared in constant time) and the table's
 * generation, so a reload forgets every entry. Failures are never cached.
 */
#ifndef WS_SERVER_AUTH_H
#define WS_SERVER_AUTH_H

#include "http/fields.h"

#include <stddef.h>

#define WS_AUTH_CACHE_SECS  60 /* how long a worker trusts a successful check */
#define WS_AUTH_CACHE_SLOTS 16 /* successful checks a worker remembers */
#define WS_AUTH_FILE_MAX    (4 << 20)
#define WS_AUTH_HASH_MAX    255 /* longest hash accepted in the file */

struct ws_auth;        /* the table, shared by every worker */
struct ws_auth_worker; /* one worker's crypt state and cache */

/*
 * Reads the htpasswd file at path (http/auth.h's ws_auth_parse_line for each
 * line) and checks that libcrypt supports each scheme it uses. Refuses a
 * file that is not a regular file, is readable by others (mode & 004) or
 * writable by group or others (mode & 022), holds no user, or has a bad
 * line: returns NULL with err (err_size bytes) saying which and why.
 * Blocks (reads the file). Any thread, but not concurrently with itself.
 */
struct ws_auth *ws_auth_load(const char *path, char *err, size_t err_size);

/*
 * Reads the file again (SIGHUP). Returns 0 with the new table in use and
 * every worker's cache invalidated, or -1 with err set and the old table
 * still in use. Only one thread (the event thread) may call it.
 */
int ws_auth_reload(struct ws_auth *a, char *err, size_t err_size);

/* Users in the table now. */
unsigned ws_auth_users(struct ws_auth *a);

/* Frees a (NULL is fine). No worker may be using it. */
void ws_auth_free(struct ws_auth *a);

/* A worker's state (about 33 KiB: struct crypt_data); NULL with errno on failure. */
struct ws_auth_worker *ws_auth_worker_new(void);
void ws_auth_worker_free(struct ws_auth_worker *w);

/*
 * Whether pass (NUL-terminated at pass.ptr[pass.len]) is user's password by
 * the current table: 1 or 0. May take tens of milliseconds (bcrypt) unless
 * the worker's cache knows the pair. Thread-safe with one w per thread.
 */
int ws_auth_verify(struct ws_auth *a, struct ws_auth_worker *w, struct ws_view user,
                   struct ws_view pass);

#endif
