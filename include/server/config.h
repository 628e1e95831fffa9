/*
 * server/config.h - command-line configuration.
 *
 * ws_config_parse is pure apart from getopt_long's own globals (optind, opterr),
 * which it resets on entry: call it from one thread at a time. It checks syntax
 * and ranges only; whether the root exists is checked by main, which owns I/O.
 */
#ifndef WS_CONFIG_H
#define WS_CONFIG_H

#include "http/auth.h"
#include "http/forwarded.h"
#include "http/site.h"
#include "server/tls.h"

#include <stddef.h>
#include <stdint.h>

#define WS_MAX_TLS_PAIRS     8   /* --tls-cert/--tls-key pairs */
#define WS_MAX_UNIX_LISTEN   4   /* --listen unix:PATH options */
#define WS_UNIX_PATH_MAX     108 /* sizeof(sun_path), the terminating NUL included */
#define WS_MAX_EVENT_THREADS 64  /* --event-threads */

/* A --listen unix:PATH[:MODE]: a Unix stream socket to create and listen on. */
struct ws_unix_listen {
    char path[WS_UNIX_PATH_MAX]; /* absolute, NUL-terminated */
    unsigned mode;               /* permission bits of the socket file, 0..0777 */
};

/* The socket file's mode when --listen gives none: the owner (--user) and its group. */
#define WS_UNIX_LISTEN_MODE 0660

struct ws_config {
    int port;                /* 0..65535; 0 lets the kernel choose; -1: no cleartext TCP listener */
    unsigned threads;        /* worker threads, 1..1024 */
    unsigned event_threads;  /* 1..WS_MAX_EVENT_THREADS; 0: chosen from the CPUs at start */
    unsigned queue_capacity; /* ring buffer slots, 1..1048576 */
    const char *root;        /* document root, as given */
    const char *bind;        /* address to listen on; NULL means every interface */
    const char *access_log;  /* file name, "-" for stdout, or NULL for off */
    unsigned header_timeout_ms;             /* whole request header must arrive within this */
    unsigned keepalive_timeout_ms;          /* idle time allowed between requests */
    unsigned send_timeout_ms;               /* longest a client may stall reading a response */
    unsigned min_rate;                      /* bytes/s a transfer must keep up; 0: no minimum */
    unsigned shutdown_grace_ms;             /* time in-flight responses get after SIGTERM */
    unsigned max_requests;                  /* requests per connection; 0 means no cap */
    uint64_t max_body;                      /* largest request body read and discarded */
    int cache_mode;                         /* enum ws_cache_mode (validators.h) */
    unsigned cache_max_age;                 /* seconds, with WS_CACHE_FIXED */
    const char *mime_types;                 /* extra /etc/mime.types style file, or NULL */
    const char *error_pages;                /* directory with <status>.html pages, or NULL */
    int listing;                            /* list directories without index.html */
    int dotfiles;                           /* serve names that start with '.' */
    const char *error_log;                  /* file name, or NULL for stderr */
    int log_format;                         /* enum ws_log_format (log.h) */
    const char *user;                       /* drop root for this user after binding, or NULL */
    int reuseport;                          /* SO_REUSEPORT on the listeners */
    unsigned defer_accept_secs;             /* TCP_DEFER_ACCEPT on our listeners; 0: off */
    int stat_every_request;                 /* --revalidate=stat: no inotify watch */
    struct ws_cidr trusted[WS_MAX_TRUSTED]; /* --trusted-proxy blocks */
    unsigned n_trusted;
    struct ws_tls_pair tls_pairs[WS_MAX_TLS_PAIRS]; /* n-th --tls-cert, n-th --tls-key */
    unsigned n_tls_pairs;                           /* 0: no HTTPS listener */
    int tls_port;          /* HTTPS port (default 6790), 0..65535; with a certificate only */
    int tls_min;           /* oldest TLS version: 12 (the default) or 13, as ws_tls_config wants */
    int http2;             /* --http2: h2 (ALPN) and h2c (prior knowledge); default on */
    int redirect_https;    /* the cleartext port answers every request with 308 to https:// */
    int hsts;              /* send Strict-Transport-Security on HTTPS responses... */
    unsigned hsts_secs;    /* ... with this max-age (0 is valid: it tells browsers to forget) */
    struct ws_site site;   /* --header, --header-for, --security-headers, --cors, --health,
                              --fallback; copy it with ws_site_copy */
    int compress;          /* --compress: gzip and zstd on the fly (compress.h); default on */
    int gzip_level;        /* --compress-level gzip=N, 1-9 */
    int zstd_level;        /* --compress-level zstd=N, 1-19 */
    uint64_t compress_min; /* --compress-min: smallest file compressed on the fly */
    uint64_t compress_cache;    /* --compress-cache: bytes of results the workers share */
    const char *auth_file;      /* --auth-file: htpasswd file (server/auth.h), or NULL */
    struct ws_auth_policy auth; /* --auth-path, --auth-realm; copy with ws_auth_policy_fix */
    struct ws_unix_listen unix_listen[WS_MAX_UNIX_LISTEN]; /* --listen unix:... */
    unsigned n_unix_listen;
};

enum ws_config_result {
    WS_CONFIG_RUN = 0, /* *cfg is ready */
    WS_CONFIG_HELP,    /* --help: print ws_config_help() and exit 0 */
    WS_CONFIG_VERSION, /* --version: print the version and exit 0 */
    WS_CONFIG_ERROR,   /* err holds a one-line message; exit 2 */
};

/* Fills *cfg with the defaults. */
void ws_config_defaults(struct ws_config *cfg);

/*
 * Parses argv into *cfg (which it first sets to the defaults). On
 * WS_CONFIG_ERROR, err (err_size bytes) holds one line without a newline.
 * Strings in *cfg point into argv.
 */
enum ws_config_result ws_config_parse(struct ws_config *cfg, int argc, char **argv, char *err,
                                      size_t err_size);

/*
 * Parses the value of --listen: "unix:PATH" or "unix:PATH:MODE", where PATH is
 * absolute and shorter than WS_UNIX_PATH_MAX and MODE is 1 to 4 octal digits
 * (at most 0777; WS_UNIX_LISTEN_MODE when absent). A PATH whose last ':' is
 * followed by octal digits alone is read as PATH:MODE. Returns 0, or -1 with
 * *why set to a static phrase. Pure.
 */
int ws_listen_parse(const char *spec, struct ws_unix_listen *out, const char **why);

/* The --help text. */
const char *ws_config_help(void);

#endif
