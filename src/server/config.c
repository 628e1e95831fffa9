/*
 * server/config.c - command-line parsing; see config.h.
 */
#include "server/config.h"

#include "http/fields.h"
#include "http/validators.h"
#include "server/compress.h"
#include "server/log.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help_text[] =
    "Usage: webserver [OPTION]...\n"
    "Serve the files under a directory over HTTP/1.1, and over HTTPS with --tls-cert.\n"
    "\n"
    "  -p, --port=PORT|off          TCP port to listen on (default 6789; 0 picks a free one;\n"
    "                               off for none)\n"
    "  -t, --threads=N              worker threads (default 8)\n"
    "      --event-threads=N        threads that accept and watch connections, each with\n"
    "                               its own epoll set and SO_REUSEPORT listeners, 1 to 64\n"
    "                               (default CPUs/4, at least 1 and at most 16)\n"
    "  -r, --root=DIR               document root (default www)\n"
    "  -q, --queue=N                capacity of the connection queue (default 16384)\n"
    "  -b, --bind=ADDR              address to listen on (default: all, IPv4 and IPv6)\n"
    "      --listen=unix:PATH[:MODE]\n"
    "                               also listen on a Unix stream socket at PATH (absolute),\n"
    "                               its file given mode MODE (octal, default 0660) and to\n"
    "                               the user of --user; a stale socket there is replaced;\n"
    "                               without --port or --bind, no cleartext TCP port is\n"
    "                               opened (repeatable)\n"
    "      --access-log=FILE|-|off  access log file, - for stdout (default), or off\n"
    "      --header-timeout=SECS    time allowed to send a request header (default 15)\n"
    "      --keepalive-timeout=SECS idle time allowed between requests (default 15)\n"
    "      --send-timeout=SECS      time a client may stall reading a response (default 30)\n"
    "      --min-rate=BYTES         bytes/s a request head, a request body or a response\n"
    "                               must move at, judged every 5 s; 0 for none (default 240)\n"
    "      --shutdown-grace=SECS    time in-flight responses get on SIGTERM (default 10)\n"
    "      --max-requests=N         requests served per connection, 0 for no cap (default 1000)\n"
    "      --max-body=BYTES         largest request body accepted and discarded (default 1048576)\n"
    "      --cache=auto|off|SECS    Cache-Control policy (default auto: no-cache for HTML,\n"
    "                               a year for fingerprinted names, 600 s otherwise)\n"
    "      --mime-types=FILE        extra media types, in /etc/mime.types format\n"
    "      --error-pages=DIR        serve DIR/404.html (etc.) for errors\n"
    "      --listing                list directories that have no index.html\n"
    "      --dotfiles=deny|allow    serve names starting with '.' (default deny: 404)\n"
    "      --fallback=FILE          serve FILE (under the root, e.g. index.html) with 200\n"
    "                               for a missing path with no extension in its last\n"
    "                               segment, or asked for as text/html (single-page apps)\n"
    "      --header='NAME: VALUE'   add this field to every response (repeatable)\n"
    "      --header-for GLOB 'NAME: VALUE'\n"
    "                               add it where the decoded path matches GLOB (fnmatch,\n"
    "                               '*' crosses '/'; e.g. '/assets/*'; repeatable)\n"
    "      --security-headers       add X-Content-Type-Options: nosniff, Referrer-Policy:\n"
    "                               strict-origin-when-cross-origin, X-Frame-Options:\n"
    "                               SAMEORIGIN\n"
    "      --cors=ORIGIN|*          allow this origin (https://host[:port]; repeatable)\n"
    "                               or every one (*) by CORS, preflights included\n"
    "      --health=PATH            answer GET/HEAD of PATH with 200 ok, without the disk\n"
    "      --metrics=PATH           serve the server's counters at PATH as Prometheus text\n"
    "                               (OpenMetrics if Accept prefers it), without the disk\n"
    "      --metrics-allow=ADDR[/N] clients that may read them (repeatable; default\n"
    "                               127.0.0.0/8 and ::1); others get 404\n"
    "      --error-log=FILE|-       error log file, - for stderr (default)\n"
    "      --log-format=FORMAT      combined (default), timing (adds the ring wait and\n"
    "                               service time in microseconds) or json\n"
    "      --trusted-proxy=ADDR[/N]|unix\n"
    "                               log the X-Forwarded-For client of requests from\n"
    "                               this proxy address or block, or from any --listen\n"
    "                               Unix socket peer (repeatable)\n"
    "      --reuseport              let several processes listen on the same port\n"
    "      --defer-accept=SECS      take a connection only once it has sent data, or\n"
    "                               after SECS (default 1; 0 turns it off)\n"
    "      --revalidate=inotify|stat\n"
    "                               how cached small files are checked against the\n"
    "                               disk: inotify (default; a stat only after a change\n"
    "                               is reported) or a stat on every request\n"
    "      --tls-cert=FILE          PEM certificate chain for HTTPS (repeatable: the first\n"
    "                               is the default, the others are chosen by SNI)\n"
    "      --tls-key=FILE           PEM private key of the --tls-cert in the same place\n"
    "                               (the first key goes with the first certificate...)\n"
    "      --tls-port=PORT          TCP port for HTTPS (default 6790; 0 picks a free one)\n"
    "      --redirect-https         answer every cleartext request with 308 to https://\n"
    "      --hsts=SECS              send Strict-Transport-Security with this max-age on\n"
    "                               HTTPS responses (default: none)\n"
    "      --tls-min=1.2|1.3        oldest TLS version accepted (default 1.2)\n"
    "      --http2=on|off           HTTP/2: h2 by ALPN on the HTTPS port, h2c with prior\n"
    "                               knowledge on the cleartext port (default on)\n"
    "      --compress=on|off        compress text, JSON, JS, SVG... of 512 B to 1 GiB on\n"
    "                               the fly with zstd or gzip, by Accept-Encoding, when\n"
    "                               no precompressed sibling fits (default on)\n"
    "      --compress-level=[gzip=|zstd=]N\n"
    "                               level of on-the-fly compression: gzip 1-9 (default 6),\n"
    "                               zstd 1-19 (default 3); N alone (1-9) sets both\n"
    "      --compress-min=BYTES     smallest file compressed on the fly (default 512)\n"
    "      --compress-cache=BYTES   compressed results the workers share (default 67108864;\n"
    "                               0: none shared, files over 256 KiB compressed\n"
    "                               for each request; small ones still kept per worker)\n"
    "      --auth-file=FILE         ask for Basic authentication (401) with the users of\n"
    "                               this htpasswd file (bcrypt, SHA-crypt or yescrypt\n"
    "                               hashes; mode 600 or 640); SIGHUP reads it again\n"
    "      --auth-path=PREFIX       only paths under PREFIX (e.g. /private/) need it\n"
    "                               (repeatable; default: the whole site)\n"
    "      --auth-realm=NAME        the realm browsers show (default webserver)\n"
    "  -u, --user=NAME              after binding, drop root privileges to this user\n"
    "  -h, --help                   show this help and exit\n"
    "  -V, --version                show the version and exit\n"
    "\n"
    "Diagnostics go to standard error, the access log to standard output.\n"
    "Signals: SIGINT/SIGTERM stop gracefully, SIGHUP reopens the log files and\n"
    "loads the certificates and the --auth-file again,\n"
    "SIGUSR1 writes a statistics line to the error log.\n"
    "Exit status: 0 after a clean shutdown (SIGINT or SIGTERM), 1 if the server\n"
    "could not start, 2 for a usage error.\n";

const char *ws_config_help(void)
{
    return help_text;
}

void ws_config_defaults(struct ws_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = 6789;
    cfg->threads = 8;
    cfg->queue_capacity = 16384;
    cfg->root = "www";
    cfg->bind = NULL;
    cfg->access_log = "-";
    cfg->header_timeout_ms = 15000;
    cfg->keepalive_timeout_ms = 15000;
    cfg->send_timeout_ms = 30000;
    cfg->min_rate = 240;
    cfg->shutdown_grace_ms = 10000;
    cfg->max_requests = 1000;
    cfg->max_body = 1024 * 1024;
    cfg->cache_mode = WS_CACHE_AUTO;
    cfg->cache_max_age = 0;
    cfg->defer_accept_secs = 1;
    cfg->tls_port = 6790;
    cfg->tls_min = 12;
    cfg->http2 = 1;
    cfg->compress = 1;
    cfg->gzip_level = WS_COMPRESS_GZIP_LEVEL;
    cfg->zstd_level = WS_COMPRESS_ZSTD_LEVEL;
    cfg->compress_min = WS_COMPRESS_MIN_FILE;
    cfg->compress_cache = WS_COMPRESS_CACHE;
}

static void set_error(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    if (err_size == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

/* Parses seconds (decimals allowed, "0.5") into milliseconds in [1 ms, 1 day]. */
static int parse_seconds(const char *s, unsigned *out_ms)
{
    char *end;
    double v;

    if ((*s < '0' || *s > '9') && *s != '.')
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0.001 || v > 86400.0)
        return -1;
    *out_ms = (unsigned)(v * 1000.0 + 0.5);
    return 0;
}

enum {
    OPT_ACCESS_LOG = 256,
    OPT_HEADER_TIMEOUT,
    OPT_KEEPALIVE_TIMEOUT,
    OPT_SEND_TIMEOUT,
    OPT_MIN_RATE,
    OPT_SHUTDOWN_GRACE,
    OPT_MAX_REQUESTS,
    OPT_MAX_BODY,
    OPT_CACHE,
    OPT_MIME_TYPES,
    OPT_ERROR_PAGES,
    OPT_LISTING,
    OPT_DOTFILES,
    OPT_ERROR_LOG,
    OPT_LOG_FORMAT,
    OPT_TRUSTED_PROXY,
    OPT_REUSEPORT,
    OPT_DEFER_ACCEPT,
    OPT_REVALIDATE,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_PORT,
    OPT_REDIRECT_HTTPS,
    OPT_HSTS,
    OPT_TLS_MIN,
    OPT_HTTP2,
    OPT_FALLBACK,
    OPT_HEADER,
    OPT_HEADER_FOR,
    OPT_SECURITY_HEADERS,
    OPT_CORS,
    OPT_HEALTH,
    OPT_METRICS,
    OPT_METRICS_ALLOW,
    OPT_COMPRESS,
    OPT_COMPRESS_LEVEL,
    OPT_COMPRESS_MIN,
    OPT_COMPRESS_CACHE,
    OPT_AUTH_FILE,
    OPT_AUTH_PATH,
    OPT_AUTH_REALM,
    OPT_LISTEN,
    OPT_EVENT_THREADS,
};

static const struct option long_opts[] = {
    { "port", required_argument, NULL, 'p' },
    { "threads", required_argument, NULL, 't' },
    { "event-threads", required_argument, NULL, OPT_EVENT_THREADS },
    { "root", required_argument, NULL, 'r' },
    { "queue", required_argument, NULL, 'q' },
    { "bind", required_argument, NULL, 'b' },
    { "access-log", required_argument, NULL, OPT_ACCESS_LOG },
    { "header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT },
    { "keepalive-timeout", required_argument, NULL, OPT_KEEPALIVE_TIMEOUT },
    { "send-timeout", required_argument, NULL, OPT_SEND_TIMEOUT },
    { "min-rate", required_argument, NULL, OPT_MIN_RATE },
    { "shutdown-grace", required_argument, NULL, OPT_SHUTDOWN_GRACE },
    { "max-requests", required_argument, NULL, OPT_MAX_REQUESTS },
    { "max-body", required_argument, NULL, OPT_MAX_BODY },
    { "cache", required_argument, NULL, OPT_CACHE },
    { "mime-types", required_argument, NULL, OPT_MIME_TYPES },
    { "error-pages", required_argument, NULL, OPT_ERROR_PAGES },
    { "listing", no_argument, NULL, OPT_LISTING },
    { "dotfiles", required_argument, NULL, OPT_DOTFILES },
    { "error-log", required_argument, NULL, OPT_ERROR_LOG },
    { "log-format", required_argument, NULL, OPT_LOG_FORMAT },
    { "trusted-proxy", required_argument, NULL, OPT_TRUSTED_PROXY },
    { "reuseport", no_argument, NULL, OPT_REUSEPORT },
    { "defer-accept", required_argument, NULL, OPT_DEFER_ACCEPT },
    { "revalidate", required_argument, NULL, OPT_REVALIDATE },
    { "tls-cert", required_argument, NULL, OPT_TLS_CERT },
    { "tls-key", required_argument, NULL, OPT_TLS_KEY },
    { "tls-port", required_argument, NULL, OPT_TLS_PORT },
    { "redirect-https", no_argument, NULL, OPT_REDIRECT_HTTPS },
    { "hsts", required_argument, NULL, OPT_HSTS },
    { "tls-min", required_argument, NULL, OPT_TLS_MIN },
    { "http2", required_argument, NULL, OPT_HTTP2 },
    { "fallback", required_argument, NULL, OPT_FALLBACK },
    { "header", required_argument, NULL, OPT_HEADER },
    { "header-for", required_argument, NULL, OPT_HEADER_FOR },
    { "security-headers", no_argument, NULL, OPT_SECURITY_HEADERS },
    { "cors", required_argument, NULL, OPT_CORS },
    { "health", required_argument, NULL, OPT_HEALTH },
    { "metrics", required_argument, NULL, OPT_METRICS },
    { "metrics-allow", required_argument, NULL, OPT_METRICS_ALLOW },
    { "compress", required_argument, NULL, OPT_COMPRESS },
    { "compress-level", required_argument, NULL, OPT_COMPRESS_LEVEL },
    { "compress-min", required_argument, NULL, OPT_COMPRESS_MIN },
    { "compress-cache", required_argument, NULL, OPT_COMPRESS_CACHE },
    { "auth-file", required_argument, NULL, OPT_AUTH_FILE },
    { "auth-path", required_argument, NULL, OPT_AUTH_PATH },
    { "auth-realm", required_argument, NULL, OPT_AUTH_REALM },
    { "listen", required_argument, NULL, OPT_LISTEN },
    { "user", required_argument, NULL, 'u' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

/* "--name" for an option's getopt value, for error messages. */
static const char *option_name(int c, char *buf, size_t size)
{
    for (size_t i = 0; long_opts[i].name != NULL; i++)
        if (long_opts[i].val == c) {
            snprintf(buf, size, "--%s", long_opts[i].name);
            return buf;
        }
    return "?";
}

/*
 * Sets the message for getopt's '?'. An unknown short option may sit inside a group
 * ("-xp 80"), where optind still points at the group's own element, so it is
 * named by its letter (optopt); anything else (an unknown or ambiguous long
 * option, optopt 0, or a value given to --help, optopt 'h') by its element.
 */
static enum ws_config_result unknown_option(char *err, size_t err_size, char **argv)
{
    int c = optopt;

    if (c != 0 && (c < 0 || c > 0x7e || strchr("ptrqbuhV", c) == NULL)) {
        unsigned char u = (unsigned char)c;
        if (isgraph(u))
            set_error(err, err_size, "unknown option '-%c' (try --help)", u);
        else
            set_error(err, err_size, "unknown option '-\\x%02x' (try --help)", u);
    } else {
        set_error(err, err_size, "unknown option '%s' (try --help)", argv[optind - 1]);
    }
    return WS_CONFIG_ERROR;
}

/*
 * Applies a numeric option (a count, a size or a duration) to *cfg. Returns 0,
 * -1 for a bad value, or 1 when c is not a numeric option.
 */
static int set_numeric_option(struct ws_config *cfg, int c, const char *arg)
{
    uint64_t v;

    switch (c) {
    case 'p':
        if (strcmp(arg, "off") == 0) {
            cfg->port = -1;
            return 0;
        }
        if (ws_parse_uint(arg, 0, 65535, &v) < 0)
            return -1;
        cfg->port = (int)v;
        return 0;
    case 't':
        if (ws_parse_uint(arg, 1, 1024, &v) < 0)
            return -1;
        cfg->threads = (unsigned)v;
        return 0;
    case 'q':
        if (ws_parse_uint(arg, 1, 1u << 20, &v) < 0)
            return -1;
        cfg->queue_capacity = (unsigned)v;
        return 0;
    case OPT_HEADER_TIMEOUT:
        if (parse_seconds(arg, &cfg->header_timeout_ms) < 0)
            return -1;
        return 0;
    case OPT_KEEPALIVE_TIMEOUT:
        if (parse_seconds(arg, &cfg->keepalive_timeout_ms) < 0)
            return -1;
        return 0;
    case OPT_SEND_TIMEOUT:
        if (parse_seconds(arg, &cfg->send_timeout_ms) < 0)
            return -1;
        return 0;
    case OPT_SHUTDOWN_GRACE:
        if (parse_seconds(arg, &cfg->shutdown_grace_ms) < 0)
            return -1;
        return 0;
    case OPT_MIN_RATE:
        if (ws_parse_uint(arg, 0, 1u << 30, &v) < 0)
            return -1;
        cfg->min_rate = (unsigned)v;
        return 0;
    case OPT_MAX_REQUESTS:
        if (ws_parse_uint(arg, 0, 1000000000, &v) < 0)
            return -1;
        cfg->max_requests = (unsigned)v;
        return 0;
    case OPT_MAX_BODY:
        if (ws_parse_uint(arg, 0, 1ULL << 40, &v) < 0)
            return -1;
        cfg->max_body = v;
        return 0;
    case OPT_DEFER_ACCEPT:
        if (ws_parse_uint(arg, 0, 3600, &v) < 0)
            return -1;
        cfg->defer_accept_secs = (unsigned)v;
        return 0;
    default: return 1;
    }
}

/*
 * Applies an option that takes a name, a path or a keyword (or nothing) to
 * *cfg. Returns 0, -1 for a bad value, or 1 when c is not such an option.
 */
static int set_named_option(struct ws_config *cfg, int c, char *arg)
{
    uint64_t v;

    switch (c) {
    case 'r':
        if (arg[0] == '\0')
            return -1;
        cfg->root = arg;
        return 0;
    case 'b':
        if (arg[0] == '\0')
            return -1;
        cfg->bind = arg;
        return 0;
    case OPT_ACCESS_LOG:
        if (arg[0] == '\0')
            return -1;
        cfg->access_log = strcmp(arg, "off") == 0 ? NULL : arg;
        return 0;
    case OPT_CACHE:
        if (strcmp(arg, "auto") == 0) {
            cfg->cache_mode = WS_CACHE_AUTO;
        } else if (strcmp(arg, "off") == 0) {
            cfg->cache_mode = WS_CACHE_OFF;
        } else if (ws_parse_uint(arg, 0, 315360000, &v) == 0) {
            cfg->cache_mode = WS_CACHE_FIXED;
            cfg->cache_max_age = (unsigned)v;
        } else {
            return -1;
        }
        return 0;
    case OPT_MIME_TYPES:
        if (arg[0] == '\0')
            return -1;
        cfg->mime_types = arg;
        return 0;
    case OPT_ERROR_PAGES:
        if (arg[0] == '\0')
            return -1;
        cfg->error_pages = arg;
        return 0;
    case OPT_LISTING: cfg->listing = 1; return 0;
    case OPT_DOTFILES:
        if (strcmp(arg, "allow") == 0)
            cfg->dotfiles = 1;
        else if (strcmp(arg, "deny") == 0)
            cfg->dotfiles = 0;
        else
            return -1;
        return 0;
    case OPT_ERROR_LOG:
        if (arg[0] == '\0')
            return -1;
        cfg->error_log = strcmp(arg, "-") == 0 ? NULL : arg;
        return 0;
    case OPT_REVALIDATE:
        if (strcmp(arg, "inotify") == 0)
            cfg->stat_every_request = 0;
        else if (strcmp(arg, "stat") == 0)
            cfg->stat_every_request = 1;
        else
            return -1;
        return 0;
    case OPT_LOG_FORMAT:
        if (strcmp(arg, "combined") == 0)
            cfg->log_format = WS_LOG_COMBINED;
        else if (strcmp(arg, "timing") == 0)
            cfg->log_format = WS_LOG_TIMING;
        else if (strcmp(arg, "json") == 0)
            cfg->log_format = WS_LOG_JSON;
        else
            return -1;
        return 0;
    case OPT_REUSEPORT: cfg->reuseport = 1; return 0;
    case 'u':
        if (arg[0] == '\0')
            return -1;
        cfg->user = arg;
        return 0;
    default: return 1;
    }
}

/*
 * Applies an HTTPS option other than the certificate files to *cfg. Returns
 * 0, -1 for a bad value, or 1 when c is not such an option.
 */
static int set_tls_option(struct ws_config *cfg, int c, const char *arg)
{
    uint64_t v;

    switch (c) {
    case OPT_TLS_PORT:
        if (ws_parse_uint(arg, 0, 65535, &v) < 0)
            return -1;
        cfg->tls_port = (int)v;
        return 0;
    case OPT_HSTS:
        if (ws_parse_uint(arg, 0, 0x7fffffff, &v) < 0)
            return -1;
        cfg->hsts = 1;
        cfg->hsts_secs = (unsigned)v;
        return 0;
    case OPT_REDIRECT_HTTPS: cfg->redirect_https = 1; return 0;
    case OPT_TLS_MIN:
        if (strcmp(arg, "1.2") == 0)
            cfg->tls_min = 12;
        else if (strcmp(arg, "1.3") == 0)
            cfg->tls_min = 13;
        else
            return -1;
        return 0;
    case OPT_HTTP2:
        if (strcmp(arg, "on") == 0)
            cfg->http2 = 1;
        else if (strcmp(arg, "off") == 0)
            cfg->http2 = 0;
        else
            return -1;
        return 0;
    default: return 1;
    }
}

/* arg for a message: at most 120 bytes, a control byte shown as '?'. */
static const char *printable(const char *arg, char *buf, size_t size)
{
    size_t n = 0;

    for (; *arg != '\0' && n + 4 < size && n < 120; arg++)
        buf[n++] = ((unsigned char)*arg < 0x20 || *arg == 0x7f) ? '?' : *arg;
    if (*arg != '\0')
        buf[n++] = '.', buf[n++] = '.', buf[n++] = '.';
    buf[n] = '\0';
    return buf;
}

/*
 * Applies a site option (site.h) to cfg->site; --header-for takes its
 * second value from argv[optind]. Returns 0, -1 with err set, or 1 when c
 * is not such an option.
 */
static int set_site_option(struct ws_config *cfg, int c, char *arg, int argc, char **argv,
                           char *err, size_t err_size)
{
    const char *why = NULL, *spec = arg;
    char shown[128], name[32];
    int rc;

    switch (c) {
    case OPT_HEADER: rc = ws_site_add_field(&cfg->site, NULL, arg, &why); break;
    case OPT_HEADER_FOR:
        if (optind >= argc) {
            set_error(err, err_size,
                      "--header-for needs a path pattern and a field: "
                      "--header-for '/assets/*' 'Name: value'");
            return -1;
        }
        spec = argv[optind++];
        rc = ws_site_add_field(&cfg->site, arg, spec, &why);
        break;
    case OPT_SECURITY_HEADERS: rc = ws_site_add_security_headers(&cfg->site, &why); break;
    case OPT_CORS: rc = ws_site_add_origin(&cfg->site, arg, &why); break;
    case OPT_HEALTH: rc = ws_site_set_health(&cfg->site, arg, &why); break;
    case OPT_FALLBACK: rc = ws_site_set_fallback(&cfg->site, arg, &why); break;
    default: return 1;
    }
    if (rc < 0)
        set_error(err, err_size, "invalid %s '%s': %s", option_name(c, name, sizeof(name)),
                  spec != NULL ? printable(spec, shown, sizeof(shown)) : "", why);
    return rc < 0 ? -1 : 0;
}

/* --metrics and --metrics-allow (site.h). Returns 0, or -1 with err set. */
static int set_metrics_option(struct ws_config *cfg, int c, const char *arg, char *err,
                              size_t err_size)
{
    const char *why = NULL;
    char shown[128], name[32];
    int rc = c == OPT_METRICS ? ws_site_set_metrics(&cfg->site, arg, &why)
                              : ws_site_add_metrics_allow(&cfg->site, arg, &why);

    if (rc < 0)
        set_error(err, err_size, "invalid %s '%s': %s", option_name(c, name, sizeof(name)),
                  printable(arg, shown, sizeof(shown)), why);
    return rc;
}

/* --compress, --compress-level, --compress-min and --compress-cache: 1 when c is none. */
static int set_compress_option(struct ws_config *cfg, int c, const char *arg)
{
    uint64_t v;

    switch (c) {
    case OPT_COMPRESS:
        if (strcmp(arg, "on") == 0)
            cfg->compress = 1;
        else if (strcmp(arg, "off") == 0)
            cfg->compress = 0;
        else
            return -1;
        return 0;
    case OPT_COMPRESS_LEVEL:
        if (strncmp(arg, "gzip=", 5) == 0) {
            if (ws_parse_uint(arg + 5, 1, 9, &v) < 0)
                return -1;
            cfg->gzip_level = (int)v;
        } else if (strncmp(arg, "zstd=", 5) == 0) {
            if (ws_parse_uint(arg + 5, 1, 19, &v) < 0)
                return -1;
            cfg->zstd_level = (int)v;
        } else {
            if (ws_parse_uint(arg, 1, 9, &v) < 0)
                return -1;
            cfg->gzip_level = cfg->zstd_level = (int)v;
        }
        return 0;
    case OPT_COMPRESS_MIN: return ws_parse_uint(arg, 1, WS_COMPRESS_MAX_FILE, &cfg->compress_min);
    case OPT_COMPRESS_CACHE: return ws_parse_uint(arg, 0, (uint64_t)1 << 40, &cfg->compress_cache);
    default: return 1;
    }
}

/*
 * --auth-file, --auth-path and --auth-realm (http/auth.h): 0, -1 with err
 * set, or 1 when c is none of them. The file itself is read by main.
 */
static int set_auth_option(struct ws_config *cfg, int c, char *arg, char *err, size_t err_size)
{
    const char *why = NULL;
    char shown[128], name[32];
    int rc = 0;

    switch (c) {
    case OPT_AUTH_FILE:
        if (arg[0] == '\0') {
            why = "it must name a file";
            rc = -1;
        }
        cfg->auth_file = arg;
        break;
    case OPT_AUTH_PATH: rc = ws_auth_add_path(&cfg->auth, arg, &why); break;
    case OPT_AUTH_REALM: rc = ws_auth_set_realm(&cfg->auth, arg, &why); break;
    default: return 1;
    }
    if (rc < 0)
        set_error(err, err_size, "invalid %s '%s': %s", option_name(c, name, sizeof(name)),
                  printable(arg, shown, sizeof(shown)), why);
    return rc < 0 ? -1 : 0;
}

int ws_listen_parse(const char *spec, struct ws_unix_listen *out, const char **why)
{
    const char *path, *colon;
    size_t len;
    unsigned mode = WS_UNIX_LISTEN_MODE;

    if (strncmp(spec, "unix:", 5) != 0) {
        *why = "only unix:PATH[:MODE] is supported";
        return -1;
    }
    path = spec + 5;
    len = strlen(path);
    colon = strrchr(path, ':');
    if (colon != NULL && colon[1] != '\0' && strspn(colon + 1, "01234567") == strlen(colon + 1)) {
        mode = 0;
        for (const char *d = colon + 1; *d != '\0' && mode <= 0777; d++)
            mode = mode * 8 + (unsigned)(*d - '0');
        if (strlen(colon + 1) > 4 || mode > 0777) {
            *why = "the mode must be octal permission bits, at most 0777";
            return -1;
        }
        len = (size_t)(colon - path);
    }
    if (len == 0 || path[0] != '/') {
        *why = "the socket path must be absolute";
        return -1;
    }
    if (len >= sizeof(out->path)) {
        *why = "the socket path is longer than 107 bytes";
        return -1;
    }
    if (memchr(path, '\0', len) != NULL || path[len - 1] == '/') {
        *why = "the socket path must name a file";
        return -1;
    }
    memcpy(out->path, path, len);
    out->path[len] = '\0';
    out->mode = mode;
    return 0;
}

/* Records a --listen; returns 0, or -1 with err set. */
static int add_unix_listen(struct ws_config *cfg, const char *arg, char *err, size_t err_size)
{
    const char *why;
    char shown[128];

    if (cfg->n_unix_listen == WS_MAX_UNIX_LISTEN) {
        set_error(err, err_size, "at most %d --listen options", WS_MAX_UNIX_LISTEN);
        return -1;
    }
    if (ws_listen_parse(arg, &cfg->unix_listen[cfg->n_unix_listen], &why) < 0) {
        set_error(err, err_size, "invalid --listen '%s': %s", printable(arg, shown, sizeof(shown)),
                  why);
        return -1;
    }
    for (unsigned i = 0; i < cfg->n_unix_listen; i++)
        if (strcmp(cfg->unix_listen[i].path, cfg->unix_listen[cfg->n_unix_listen].path) == 0) {
            set_error(err, err_size, "--listen unix:%s is given twice", cfg->unix_listen[i].path);
            return -1;
        }
    cfg->n_unix_listen++;
    return 0;
}

/* Files of --tls-cert (which 0) and --tls-key (which 1) given so far, and a TLS-only option. */
struct tls_args {
    unsigned n[2];
    int tls_only; /* the first option that needs a certificate, or 0 */
};

/* Records the n-th --tls-cert or --tls-key as the n-th pair's file. */
static int add_tls_file(struct ws_config *cfg, struct tls_args *a, int which, char *arg, char *err,
                        size_t err_size)
{
    const char *name = which == 0 ? "--tls-cert" : "--tls-key";

    if (arg[0] == '\0') {
        set_error(err, err_size, "invalid value '' for %s", name);
        return -1;
    }
    if (a->n[which] == WS_MAX_TLS_PAIRS) {
        set_error(err, err_size, "at most %d %s options", WS_MAX_TLS_PAIRS, name);
        return -1;
    }
    if (which == 0)
        cfg->tls_pairs[a->n[0]++].cert_file = arg;
    else
        cfg->tls_pairs[a->n[1]++].key_file = arg;
    return 0;
}

/* Pairs the certificates with their keys and checks the options that need them. */
static int check_tls(struct ws_config *cfg, const struct tls_args *a, char *err, size_t err_size)
{
    char name[32];

    if (a->n[0] > a->n[1]) {
        set_error(err, err_size,
                  "--tls-cert %s has no --tls-key (give each certificate's key, in the same order)",
                  cfg->tls_pairs[a->n[1]].cert_file);
        return -1;
    }
    if (a->n[1] > a->n[0]) {
        set_error(err, err_size,
                  "--tls-key %s has no --tls-cert (give each key's certificate, in the same order)",
                  cfg->tls_pairs[a->n[0]].key_file);
        return -1;
    }
    cfg->n_tls_pairs = a->n[0];
    if (cfg->n_tls_pairs == 0 && a->tls_only != 0) {
        set_error(err, err_size, "%s needs a certificate (--tls-cert FILE --tls-key FILE)",
                  option_name(a->tls_only, name, sizeof(name)));
        return -1;
    }
    if (cfg->n_tls_pairs > 0 && cfg->tls_port == cfg->port && cfg->port != 0) {
        set_error(err, err_size, "--tls-port %d is the cleartext --port too", cfg->tls_port);
        return -1;
    }
    return 0;
}

enum ws_config_result ws_config_parse(struct ws_config *cfg, int argc, char **argv, char *err,
                                      size_t err_size)
{
    struct tls_args tls = { { 0, 0 }, 0 };
    char name[32];
    int c = 0, rc, tcp_given = 0;

    ws_config_defaults(cfg);
    optind = 0; /* full re-initialisation (glibc), so parsing can be repeated */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":p:t:r:q:b:u:hV", long_opts, NULL)) != -1) {
        tcp_given |= c == 'p' || c == 'b';
        switch (c) {
        case OPT_TRUSTED_PROXY:
            if (cfg->n_trusted == WS_MAX_TRUSTED) {
                set_error(err, err_size, "at most %d --trusted-proxy options", WS_MAX_TRUSTED);
                return WS_CONFIG_ERROR;
            }
            if (ws_cidr_parse(optarg, &cfg->trusted[cfg->n_trusted]) < 0)
                goto bad_value;
            cfg->n_trusted++;
            break;
        case OPT_TLS_CERT:
        case OPT_TLS_KEY:
            if (add_tls_file(cfg, &tls, c == OPT_TLS_KEY, optarg, err, err_size) < 0)
                return WS_CONFIG_ERROR;
            break;
        case OPT_FALLBACK:
        case OPT_HEADER:
        case OPT_HEADER_FOR:
        case OPT_SECURITY_HEADERS:
        case OPT_CORS:
        case OPT_HEALTH:
            if (set_site_option(cfg, c, optarg, argc, argv, err, err_size) < 0)
                return WS_CONFIG_ERROR;
            break;
        case OPT_AUTH_FILE:
        case OPT_AUTH_PATH:
        case OPT_AUTH_REALM:
            if (set_auth_option(cfg, c, optarg, err, err_size) < 0)
                return WS_CONFIG_ERROR;
            break;
        case OPT_METRICS:
        case OPT_METRICS_ALLOW:
            if (set_metrics_option(cfg, c, optarg, err, err_size) < 0)
                return WS_CONFIG_ERROR;
            break;
        case OPT_LISTEN:
            if (add_unix_listen(cfg, optarg, err, err_size) < 0)
                return WS_CONFIG_ERROR;
            break;
        case OPT_EVENT_THREADS: {
            uint64_t v;
            if (ws_parse_uint(optarg, 1, WS_MAX_EVENT_THREADS, &v) < 0) {
                set_error(err, err_size, "invalid value '%s' for --event-threads: give 1 to %d",
                          printable(optarg, name, sizeof(name)), WS_MAX_EVENT_THREADS);
                return WS_CONFIG_ERROR;
            }
            cfg->event_threads = (unsigned)v;
            break;
        }
        case 'h': return WS_CONFIG_HELP;
        case 'V': return WS_CONFIG_VERSION;
        case ':':
            set_error(err, err_size, "option '%s' needs a value", argv[optind - 1]);
            return WS_CONFIG_ERROR;
        default:
            rc = set_numeric_option(cfg, c, optarg);
            if (rc == 1)
                rc = set_named_option(cfg, c, optarg);
            if (rc == 1)
                rc = set_tls_option(cfg, c, optarg);
            if (rc == 1)
                rc = set_compress_option(cfg, c, optarg);
            if (rc == 1)
                return unknown_option(err, err_size, argv);
            if (rc < 0)
                goto bad_value;
            if (tls.tls_only == 0 &&
                (c == OPT_TLS_PORT || c == OPT_REDIRECT_HTTPS || c == OPT_HSTS || c == OPT_TLS_MIN))
                tls.tls_only = c;
            break;
        }
    }
    if (optind < argc) {
        set_error(err, err_size, "unexpected argument '%s' (try --help)", argv[optind]);
        return WS_CONFIG_ERROR;
    }
    if (check_tls(cfg, &tls, err, err_size) < 0)
        return WS_CONFIG_ERROR;
    if (cfg->auth_file == NULL && (cfg->auth.n_paths > 0 || cfg->auth.realm[0] != '\0')) {
        set_error(err, err_size, "%s needs --auth-file FILE",
                  cfg->auth.n_paths > 0 ? "--auth-path" : "--auth-realm");
        return WS_CONFIG_ERROR;
    }
    if (cfg->auth_file != NULL)
        ws_auth_finish(&cfg->auth);
    if (cfg->n_unix_listen > 0 && !tcp_given)
        cfg->port = -1; /* --listen alone: the socket replaces the default TCP port */
    return WS_CONFIG_RUN;

bad_value:
    set_error(err, err_size, "invalid value '%s' for %s", optarg,
              option_name(c, name, sizeof(name)));
    return WS_CONFIG_ERROR;
}
