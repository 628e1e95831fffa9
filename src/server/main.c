/*
 * server/main.c - wires the modules together: configuration, logs, the server.
 *
 * Signals are blocked here, before any thread exists, so that every thread
 * inherits the mask and SIGINT/SIGTERM reach the server only through its
 * signalfd, on the event thread.
 */
#include "server/auth.h"
#include "server/config.h"
#include "server/log.h"
#include "http/mime.h"
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest --mime-types file read. */
#define MIME_FILE_MAX (4 << 20)

/*
 * Reads and parses the --mime-types file. Returns 0, or -1 after printing one
 * line that says what is wrong (the caller exits 2).
 */
static int load_mime_types(const char *path, struct ws_mime_map **out)
{
    char *text = NULL;
    size_t len = 0, cap = 0;
    unsigned bad_line = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0) {
        fprintf(stderr, "webserver: invalid value '%s' for --mime-types: %s\n", path,
                strerror(errno));
        return -1;
    }
    do {
        if (len == cap) {
            char *grown = cap < MIME_FILE_MAX ? realloc(text, cap = cap ? cap * 2 : 65536) : NULL;
            if (grown == NULL) {
                fprintf(stderr, "webserver: --mime-types file '%s' is too large\n", path);
                free(text);
                close(fd);
                return -1;
            }
            text = grown;
        }
        n = read(fd, text + len, cap - len);
        if (n > 0)
            len += (size_t)n;
    } while (n > 0 || (n < 0 && errno == EINTR));
    close(fd);
    if (n < 0) {
        fprintf(stderr, "webserver: cannot read --mime-types file '%s': %s\n", path,
                strerror(errno));
        free(text);
        return -1;
    }
    *out = ws_mime_map_parse(text, len, &bad_line);
    free(text);
    if (*out == NULL) {
        if (errno == EINVAL)
            fprintf(stderr, "webserver: --mime-types file '%s': malformed line %u\n", path,
                    bad_line);
        else
            fprintf(stderr, "webserver: --mime-types file '%s': %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * --user: after the sockets are bound (port 80 needs root) and the logs and
 * the root are open, become that user for good: supplementary groups, then
 * group, then user, and check that root cannot be regained.
 */
static int drop_privileges(const struct passwd *pw, char *err, size_t err_size)
{
    const char *user = pw->pw_name;

    if (geteuid() != 0) {
        if (pw->pw_uid == geteuid())
            return 0; /* already that user */
        snprintf(err, err_size, "--user %s needs the server to be started as root", user);
        return -1;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
        setuid(pw->pw_uid) < 0) {
        snprintf(err, err_size, "cannot become user '%s': %s", user, strerror(errno));
        return -1;
    }
    if (pw->pw_uid != 0 && setuid(0) == 0) {
        snprintf(err, err_size, "dropping privileges to '%s' did not stick", user);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct ws_config cfg;
    struct ws_server_resources res = {
        .root_fd = -1, .error_pages_fd = -1, .mime = NULL, .auth = NULL
    };
    struct ws_server *server;
    struct ws_log *log;
    char err[512], user_name[256];
    struct passwd user_entry, *user = NULL;
    sigset_t mask;
    int rc;

    switch (ws_config_parse(&cfg, argc, argv, err, sizeof(err))) {
    case WS_CONFIG_HELP: fputs(ws_config_help(), stdout); return 0;
    case WS_CONFIG_VERSION: printf("webserver %s\n", WS_VERSION); return 0;
    case WS_CONFIG_ERROR: fprintf(stderr, "webserver: %s\n", err); return 2;
    case WS_CONFIG_RUN: break;
    }

    if (cfg.user != NULL) {
        /* Checked with the other arguments: an unknown user is a usage error. */
        struct passwd *pw = getpwnam(cfg.user);
        if (pw == NULL) {
            fprintf(stderr, "webserver: invalid value '%s' for --user: no such user\n", cfg.user);
            return 2;
        }
        user_entry = *pw;
        user_entry.pw_name = user_name;
        snprintf(user_name, sizeof(user_name), "%s", pw->pw_name);
        user = &user_entry;
        res.socket_owner = user;
    }

    res.root_fd = open(cfg.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (res.root_fd < 0) {
        fprintf(stderr, "webserver: invalid value '%s' for --root: %s\n", cfg.root,
                strerror(errno));
        return 2;
    }
    if (cfg.error_pages != NULL) {
        res.error_pages_fd = open(cfg.error_pages, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (res.error_pages_fd < 0) {
            fprintf(stderr, "webserver: invalid value '%s' for --error-pages: %s\n",
                    cfg.error_pages, strerror(errno));
            close(res.root_fd);
            return 2;
        }
    }
    if (cfg.mime_types != NULL && load_mime_types(cfg.mime_types, &res.mime) < 0) {
        close(res.root_fd);
        if (res.error_pages_fd >= 0)
            close(res.error_pages_fd);
        return 2;
    }
    /* Read here, before privileges are dropped; a bad file is a bad option. */
    if (cfg.auth_file != NULL &&
        (res.auth = ws_auth_load(cfg.auth_file, err, sizeof(err))) == NULL) {
        fprintf(stderr, "webserver: %s\n", err);
        close(res.root_fd);
        if (res.error_pages_fd >= 0)
            close(res.error_pages_fd);
        ws_mime_map_free(res.mime);
        return 2;
    }
    /* Not when HTTPS is the only listener (--port off, no --listen). */
    if (cfg.auth_file != NULL && (cfg.port >= 0 || cfg.n_unix_listen > 0) &&
        (cfg.n_tls_pairs == 0 || !cfg.redirect_https))
        fprintf(stderr,
                "webserver: warning: --auth-file over cleartext HTTP: Basic credentials travel "
                "unencrypted on the cleartext port (use --tls-cert%s)\n",
                cfg.n_tls_pairs == 0 ? "" : " with --redirect-https");

    /* Not refused: the file may come with the next deploy. But say so now. */
    if (cfg.site.fallback[0] != '\0') {
        struct stat st;
        if (fstatat(res.root_fd, cfg.site.fallback, &st, 0) < 0 || !S_ISREG(st.st_mode))
            fprintf(stderr,
                    "webserver: warning: --fallback %s: no such file under the root yet; missing "
                    "paths get 404 until there is one\n",
                    cfg.site.fallback);
    }

    signal(SIGPIPE, SIG_IGN);
    ws_server_signal_set(&mask);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);

    log = ws_log_open(cfg.access_log, cfg.error_log, (enum ws_log_format)cfg.log_format);
    if (log == NULL) {
        fprintf(stderr, "webserver: cannot open the logs (%s, %s): %s\n",
                cfg.access_log ? cfg.access_log : "off", cfg.error_log ? cfg.error_log : "stderr",
                strerror(errno));
        close(res.root_fd);
        if (res.error_pages_fd >= 0)
            close(res.error_pages_fd);
        ws_mime_map_free(res.mime);
        ws_auth_free(res.auth);
        return 1;
    }
    server = ws_server_create(&cfg, &res, log, err, sizeof(err));
    if (server == NULL) {
        ws_log_error(log, "%s", err);
        ws_log_close(log);
        return 1;
    }
    if (cfg.user != NULL && drop_privileges(user, err, sizeof(err)) < 0) {
        ws_log_error(log, "%s", err);
        ws_server_destroy(server);
        ws_log_close(log);
        return 1;
    }
    ws_log_take_stderr(log);
    rc = ws_server_run(server);
    ws_server_destroy(server);
    ws_log_close(log);
    return rc == 0 ? 0 : 1;
}
