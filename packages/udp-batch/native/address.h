/* IP literals to socket addresses and back, as node:dgram spells them. */
#ifndef UB_ADDRESS_H
#define UB_ADDRESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Parses an IPv4 or IPv6 literal (with an optional %scope) for a socket of `family`; returns 0 or -errno. */
int ub_parse_address(const char *text, uint16_t port, int family, struct sockaddr_storage *out,
                     socklen_t *len);
/* Writes the address of `a` (IPv6 with %scope when it has one) to out; returns its length. */
size_t ub_format_address(const struct sockaddr_storage *a, char *out, size_t size);

#endif
