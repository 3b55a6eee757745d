/* The receive side: recvmmsg into a caller's slab, GRO segment sizes, interned source addresses. */
#include <errno.h>
#include <netinet/udp.h>
#include <string.h>

#include "udp_batch.h"

static socklen_t address_bytes(const struct sockaddr_storage *a, const uint8_t **bytes, uint16_t *port) {
  if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
    *bytes = (const uint8_t *)&in6->sin6_addr;
    *port = ntohs(in6->sin6_port);
    return sizeof(in6->sin6_addr);
  }
  const struct sockaddr_in *in = (const struct sockaddr_in *)a;
  *bytes = (const uint8_t *)&in->sin_addr;
  *port = ntohs(in->sin_port);
  return sizeof(in->sin_addr);
}

static int same_source(const ub_source *slot, const struct sockaddr_storage *a, socklen_t len) {
  return slot->used && slot->len == len && memcmp(&slot->addr, a, len) == 0;
}

/* The slot naming source `a`: open addressing, evicting slots this drain has not used. */
static unsigned intern(ub_socket *s, const struct sockaddr_storage *a, socklen_t len) {
  const uint8_t *bytes;
  uint16_t port;
  socklen_t n = address_bytes(a, &bytes, &port);
  uint32_t hash = 2166136261u ^ port;
  for (socklen_t i = 0; i < n; i++) hash = (hash ^ bytes[i]) * 16777619u;
  for (unsigned probe = 0;; probe++) {
    unsigned i = (hash + probe) % UB_SOURCE_SLOTS;
    ub_source *slot = &s->sources[i];
    if (same_source(slot, a, len)) {
      slot->stamp = s->drain_stamp;
      return i;
    }
    if (slot->used && slot->stamp == s->drain_stamp) continue;
    memcpy(&slot->addr, a, len);
    slot->len = len;
    slot->used = 1;
    slot->fresh = 1;
    slot->stamp = s->drain_stamp;
    return i;
  }
}

static int gro_segment(struct msghdr *h) {
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm; cm = CMSG_NXTHDR(h, cm)) {
    if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
      int size;
      memcpy(&size, CMSG_DATA(cm), sizeof(size));
      return size;
    }
  }
  return 0;
}

int ub_drain(ub_socket *s, uint8_t *slab, size_t slot_size, unsigned slots, int32_t *records) {
  if (slots > UB_MAX_BATCH) slots = UB_MAX_BATCH;
  for (unsigned i = 0; i < slots; i++) {
    s->iov[i].iov_base = slab + i * slot_size;
    s->iov[i].iov_len = slot_size;
    struct msghdr *h = &s->msgs[i].msg_hdr;
    h->msg_name = &s->names[i];
    h->msg_namelen = sizeof(s->names[i]);
    h->msg_iov = &s->iov[i];
    h->msg_iovlen = 1;
    h->msg_control = s->gro ? s->control[i].buf : NULL;
    h->msg_controllen = s->gro ? sizeof(s->control[i].buf) : 0;
    h->msg_flags = 0;
  }
  int got;
  do got = recvmmsg(s->fd, s->msgs, slots, MSG_DONTWAIT, NULL);
  while (got < 0 && errno == EINTR);
  if (got < 0) {
    s->last_errno = errno == EAGAIN || errno == EWOULDBLOCK ? 0 : errno;
    return 0;
  }
  s->drain_stamp++;
  int count = 0;
  for (int i = 0; i < got; i++) {
    struct msghdr *h = &s->msgs[i].msg_hdr;
    if (h->msg_flags & MSG_TRUNC) {
      s->truncated++;
      continue;
    }
    int length = (int)s->msgs[i].msg_len;
    int segment = s->gro ? gro_segment(h) : 0;
    const uint8_t *bytes;
    uint16_t port;
    address_bytes(&s->names[i], &bytes, &port);
    int32_t *r = records + count * UB_RECORD_INTS;
    r[0] = (int32_t)(i * slot_size);
    r[1] = length;
    r[2] = segment > 0 ? segment : length;
    r[3] = port;
    r[4] = (int32_t)intern(s, &s->names[i], h->msg_namelen);
    count++;
  }
  return count;
}
