/*
 * main.c - wires the modules together: configuration, logs, the server.
 *
 * Signals are blocked here, before any thread exists, so that every thread
 * inherits the mask and SIGINT/SIGTERM reach the server only through its
 * signalfd, on the event thread.
 */
#include "config.h"
#include "log.h"
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct ws_config cfg;
    struct ws_server *server;
    struct ws_log *log;
    char err[512];
    sigset_t mask;
    int root_fd, rc;

    switch (ws_config_parse(&cfg, argc, argv, err, sizeof(err))) {
    case WS_CONFIG_HELP: fputs(ws_config_help(), stdout); return 0;
    case WS_CONFIG_VERSION: printf("webserver %s\n", WS_VERSION); return 0;
    case WS_CONFIG_ERROR: fprintf(stderr, "webserver: %s\n", err); return 2;
    case WS_CONFIG_RUN: break;
    }

    root_fd = open(cfg.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        fprintf(stderr, "webserver: invalid value '%s' for --root: %s\n", cfg.root,
                strerror(errno));
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);

    log = ws_log_open(cfg.access_log);
    if (log == NULL) {
        fprintf(stderr, "webserver: cannot open access log '%s': %s\n", cfg.access_log,
                strerror(errno));
        close(root_fd);
        return 1;
    }
    server = ws_server_create(&cfg, root_fd, log, err, sizeof(err));
    if (server == NULL) {
        fprintf(stderr, "webserver: %s\n", err);
        ws_log_close(log);
        return 1;
    }
    rc = ws_server_run(server);
    ws_server_destroy(server);
    ws_log_close(log);
    return rc == 0 ? 0 : 1;
}
