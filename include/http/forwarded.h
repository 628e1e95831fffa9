/*
 * http/forwarded.h - trusted proxies and the client address behind them. Pure and
 * thread-safe.
 */
#ifndef WS_FORWARDED_H
#define WS_FORWARDED_H

#include "http/request_parser.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Most --trusted-proxy entries. */
#define WS_MAX_TRUSTED 16

/*
 * An address block: an IPv4 or IPv6 address and a prefix length; or, with
 * family AF_UNIX, every peer of a Unix socket.
 */
struct ws_cidr {
    int family;       /* AF_INET, AF_INET6 or AF_UNIX */
    uint8_t addr[16]; /* network byte order; 4 bytes used for AF_INET */
    unsigned prefix;  /* 0..32 or 0..128 */
};

/*
 * Parses "192.0.2.7", "10.0.0.0/8", "::1" or "fd00::/8"; or "unix", the block
 * of Unix socket peers. Host bits beyond the prefix are ignored. Returns 0, or
 * -1 if s is not such a block.
 */
int ws_cidr_parse(const char *s, struct ws_cidr *out);

/*
 * Whether the address (family AF_INET or AF_INET6, bytes in network order) lies
 * in one of the n blocks. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is
 * matched as the IPv4 address it carries.
 */
int ws_cidr_match(const struct ws_cidr *blocks, size_t n, int family, const void *addr);

/*
 * Writes the client address to log for a request that arrived from peer: the
 * peer itself ("unix:" for a Unix socket peer, "-" for another family), unless it is a trusted
 * proxy; then the X-Forwarded-For fields (all lines, in order) are read from the right, skipping
 * addresses that are themselves trusted, and the first that is not is the client. A malformed
 * element stops the walk (the address to its right, or the peer, is used), so
 * an untrusted client cannot choose what is logged by prepending junk.
 */
void ws_forwarded_client(const struct ws_request *req, const struct ws_cidr *trusted, size_t n,
                         const struct sockaddr *peer, char *out, size_t size);

#endif
