/* Opening the batching side of a socket node:dgram owns. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/udp.h>
#include <string.h>
#include <unistd.h>

#include "udp_batch.h"

int ub_open(ub_socket *s, int fd, int gso) {
  memset(s, 0, sizeof(*s));
  s->fd = -1;
  int type = 0, protocol = 0;
  socklen_t len = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return -errno;
  len = sizeof(s->family);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &s->family, &len) != 0) return -errno;
  len = sizeof(protocol);
  if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0) return -errno;
  if (type != SOCK_DGRAM || protocol != IPPROTO_UDP || (s->family != AF_INET && s->family != AF_INET6))
    return -ENOTSOCK;
  /* Our own descriptor of the same socket: if node:dgram closes its fd and the number is reused,
   * we still write to this socket, and libuv lets us poll it beside dgram's watcher. */
  int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return -errno;
  s->fd = dup;
  int segment = 0;
  len = sizeof(segment);
  /* Kernels before 4.18 do not know the option. */
  if (getsockopt(dup, SOL_UDP, UDP_SEGMENT, &segment, &len) == 0)
    s->gso = gso;
  else
    s->gso_off_errno = errno;
  return 0;
}

void ub_close(ub_socket *s) {
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
}

int ub_set_gro(ub_socket *s, int on) {
  if (setsockopt(s->fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) != 0) return -errno;
  s->gro = on;
  return 0;
}
