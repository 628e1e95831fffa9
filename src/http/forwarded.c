/*
 * http/forwarded.c - trusted proxies and X-Forwarded-For; see forwarded.h.
 */
#include "http/forwarded.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ws_cidr_parse(const char *s, struct ws_cidr *out)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t len = slash != NULL ? (size_t)(slash - s) : strlen(s);
    unsigned max;

    if (strcmp(s, "unix") == 0) {
        /* Every peer of a Unix socket: they have no address to tell apart. */
        memset(out, 0, sizeof(*out));
        out->family = AF_UNIX;
        return 0;
    }
    if (len == 0 || len >= sizeof(host))
        return -1;
    memcpy(host, s, len);
    host[len] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, host, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, host, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        return -1;
    }
    out->prefix = max;
    if (slash != NULL) {
        char *end;
        unsigned long p;
        if (slash[1] < '0' || slash[1] > '9')
            return -1;
        p = strtoul(slash + 1, &end, 10);
        if (*end != '\0' || p > max)
            return -1;
        out->prefix = (unsigned)p;
    }
    return 0;
}

static int in_block(const struct ws_cidr *b, int family, const uint8_t *addr)
{
    unsigned full = b->prefix / 8, rest = b->prefix % 8;

    if (b->family != family)
        return 0;
    if (memcmp(b->addr, addr, full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    return ((b->addr[full] ^ addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

int ws_cidr_match(const struct ws_cidr *blocks, size_t n, int family, const void *addr)
{
    static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    const uint8_t *a = addr;

    if (family == AF_INET6 && memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
        family = AF_INET;
        a += 12;
    }
    for (size_t i = 0; i < n; i++)
        if (in_block(&blocks[i], family, a))
            return 1;
    return 0;
}

/* Parses one X-Forwarded-For element (an address; IPv6 may be bracketed). */
static int parse_element(struct ws_view v, int *family, uint8_t *addr, char *text, size_t size)
{
    char buf[INET6_ADDRSTRLEN + 3];

    if (v.len >= 2 && v.ptr[0] == '[' && v.ptr[v.len - 1] == ']') {
        v.ptr++;
        v.len -= 2;
    }
    if (v.len == 0 || v.len >= sizeof(buf))
        return -1;
    memcpy(buf, v.ptr, v.len);
    buf[v.len] = '\0';
    if (inet_pton(AF_INET, buf, addr) == 1)
        *family = AF_INET;
    else if (inet_pton(AF_INET6, buf, addr) == 1)
        *family = AF_INET6;
    else
        return -1;
    inet_ntop(*family, addr, text, (socklen_t)size);
    return 0;
}

static void peer_text(const struct sockaddr *peer, char *out, size_t size)
{
    if (peer->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)peer)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)size);
        else
            inet_ntop(AF_INET6, a, out, (socklen_t)size);
    } else if (peer->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, out, (socklen_t)size);
    } else if (peer->sa_family == AF_UNIX) {
        snprintf(out, size, "unix:");
    } else {
        snprintf(out, size, "-");
    }
}

void ws_forwarded_client(const struct ws_request *req, const struct ws_cidr *trusted, size_t n,
                         const struct sockaddr *peer, char *out, size_t size)
{
    static const uint8_t no_address[16];
    const void *addr = NULL;

    peer_text(peer, out, size);
    if (n == 0 || req == NULL)
        return;
    if (peer->sa_family == AF_INET6)
        addr = &((const struct sockaddr_in6 *)peer)->sin6_addr;
    else if (peer->sa_family == AF_INET)
        addr = &((const struct sockaddr_in *)peer)->sin_addr;
    else if (peer->sa_family == AF_UNIX)
        addr = no_address; /* matched by a "unix" block alone */
    if (addr == NULL || !ws_cidr_match(trusted, n, peer->sa_family, addr))
        return;

    /* Walk the fields from the last line's last element backwards. */
    for (size_t h = req->header_count; h-- > 0;) {
        struct ws_view v = req->headers[h].value;
        size_t end;
        if (!ws_view_eq_nocase(req->headers[h].name, "x-forwarded-for"))
            continue;
        end = v.len;
        while (end > 0) {
            size_t start = end;
            struct ws_view elem;
            uint8_t a[16];
            int family;
            char text[INET6_ADDRSTRLEN];
            while (start > 0 && v.ptr[start - 1] != ',')
                start--;
            elem = (struct ws_view){ v.ptr + start, end - start };
            while (elem.len > 0 && (elem.ptr[0] == ' ' || elem.ptr[0] == '\t'))
                elem.ptr++, elem.len--;
            while (elem.len > 0 &&
                   (elem.ptr[elem.len - 1] == ' ' || elem.ptr[elem.len - 1] == '\t'))
                elem.len--;
            end = start > 0 ? start - 1 : 0;
            if (elem.len == 0)
                continue;
            if (parse_element(elem, &family, a, text, sizeof(text)) < 0)
                return; /* junk: keep what we have */
            snprintf(out, size, "%s", text);
            if (!ws_cidr_match(trusted, n, family, a))
                return; /* the first untrusted hop is the client */
            if (start == 0)
                break;
        }
    }
}
