#include "address.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned parse_scope(const char *scope) {
  char *end;
  unsigned long index = strtoul(scope, &end, 10);
  if (*scope != '\0' && *end == '\0') return (unsigned)index;
  return if_nametoindex(scope);
}

int ub_parse_address(const char *text, uint16_t port, int family, struct sockaddr_storage *out,
                     socklen_t *len) {
  memset(out, 0, sizeof(*out));
  struct in_addr v4;
  if (inet_pton(AF_INET, text, &v4) == 1) {
    if (family == AF_INET) {
      struct sockaddr_in *in = (struct sockaddr_in *)out;
      in->sin_family = AF_INET;
      in->sin_port = htons(port);
      in->sin_addr = v4;
      *len = sizeof(*in);
      return 0;
    }
    /* An IPv6 socket reaches IPv4 peers through mapped addresses. */
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    in6->sin6_addr.s6_addr[10] = 0xff;
    in6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&in6->sin6_addr.s6_addr[12], &v4, sizeof(v4));
    *len = sizeof(*in6);
    return 0;
  }
  if (family != AF_INET6) return -EAFNOSUPPORT;
  char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  size_t n = strlen(text);
  if (n >= sizeof(host)) return -EINVAL;
  memcpy(host, text, n + 1);
  char *percent = strchr(host, '%');
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
  if (percent) {
    *percent = '\0';
    in6->sin6_scope_id = parse_scope(percent + 1);
  }
  if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) return -EINVAL;
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  *len = sizeof(*in6);
  return 0;
}

size_t ub_format_address(const struct sockaddr_storage *a, char *out, size_t size) {
  if (a->ss_family == AF_INET) {
    inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, out, (socklen_t)size);
    return strlen(out);
  }
  const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
  inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)size);
  size_t n = strlen(out);
  if (in6->sin6_scope_id != 0 && n + IF_NAMESIZE + 2 <= size) {
    char name[IF_NAMESIZE];
    if (if_indextoname(in6->sin6_scope_id, name))
      n += (size_t)snprintf(out + n, size - n, "%%%s", name);
    else
      n += (size_t)snprintf(out + n, size - n, "%%%u", in6->sin6_scope_id);
  }
  return n;
}
