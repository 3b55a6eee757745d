/* The send side: UDP_SEGMENT (GSO) for runs of equal-size datagrams, sendmmsg otherwise. */
#include <errno.h>
#include <netinet/udp.h>
#include <string.h>

#include "udp_batch.h"

int ub_send_prepared(ub_socket *s, unsigned n) {
  for (;;) {
    s->send_calls++;
    int sent = sendmmsg(s->fd, s->msgs, n, 0);
    if (sent >= 0) return sent;
    if (errno != EINTR) return -errno;
  }
}

/* One sendmsg of `length` bytes, cut by the kernel into `segment`-byte datagrams. */
static int send_gso(ub_socket *s, const uint8_t *data, size_t length, uint16_t segment,
                    const struct sockaddr *to, socklen_t tolen) {
  struct iovec iov = {.iov_base = (void *)data, .iov_len = length};
  ub_control control;
  memset(&control, 0, sizeof(control));
  struct msghdr msg = {
      .msg_name = (void *)to,
      .msg_namelen = tolen,
      .msg_iov = &iov,
      .msg_iovlen = 1,
      .msg_control = control.buf,
      .msg_controllen = CMSG_SPACE(sizeof(uint16_t)),
  };
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_UDP;
  cm->cmsg_type = UDP_SEGMENT;
  cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  memcpy(CMSG_DATA(cm), &segment, sizeof(segment));
  for (;;) {
    s->send_calls++;
    if (sendmsg(s->fd, &msg, 0) >= 0) return 0;
    if (errno != EINTR) return -errno;
  }
}

/* What a kernel without UDP GSO, or a device that cannot checksum segments, answers (as quinn-udp reads it). */
static int refuses_gso(int err) {
  return err == EIO || err == EINVAL || err == ENOPROTOOPT || err == EOPNOTSUPP;
}

/* Up to UB_MAX_BATCH datagrams of data[0..length) through sendmmsg; returns how many went, or -errno. */
static int send_sliced(ub_socket *s, const uint8_t *data, size_t length, size_t segment,
                       const struct sockaddr *to, socklen_t tolen) {
  unsigned n = 0;
  for (size_t at = 0; at < length && n < UB_MAX_BATCH; at += segment, n++) {
    size_t len = length - at < segment ? length - at : segment;
    s->iov[n].iov_base = (void *)(data + at);
    s->iov[n].iov_len = len;
    struct msghdr *h = &s->msgs[n].msg_hdr;
    memset(h, 0, sizeof(*h));
    h->msg_name = (void *)to;
    h->msg_namelen = tolen;
    h->msg_iov = &s->iov[n];
    h->msg_iovlen = 1;
  }
  return ub_send_prepared(s, n);
}

size_t ub_send_segments(ub_socket *s, const uint8_t *data, size_t length, size_t segment,
                        const struct sockaddr *to, socklen_t tolen) {
  size_t per_gso = UB_GSO_MAX_BYTES / segment;
  if (per_gso > UB_GSO_MAX_SEGMENTS) per_gso = UB_GSO_MAX_SEGMENTS;
  size_t sent = 0, at = 0;
  s->last_errno = 0;
  while (at < length) {
    size_t left = length - at;
    if (s->gso && per_gso > 1 && left > segment) {
      size_t chunk = left < per_gso * segment ? left : per_gso * segment;
      int err = send_gso(s, data + at, chunk, (uint16_t)segment, to, tolen);
      if (err == 0) {
        at += chunk;
        sent += (chunk + segment - 1) / segment;
        continue;
      }
      if (!refuses_gso(-err)) {
        s->last_errno = -err;
        break;
      }
      /* For good, and this chunk goes again without it. */
      s->gso = 0;
      s->gso_off_errno = -err;
      continue;
    }
    int went = send_sliced(s, data + at, left, segment, to, tolen);
    if (went < 0) {
      s->last_errno = -went;
      break;
    }
    /* A short count means the next datagram failed: the next call reports why. */
    size_t bytes = (size_t)went * segment;
    at += bytes < left ? bytes : left;
    sent += (size_t)went;
  }
  return sent;
}
