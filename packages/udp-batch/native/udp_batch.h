/* Batched UDP I/O on one datagram socket: the syscall side, free of N-API. */
#ifndef UDP_BATCH_H
#define UDP_BATCH_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Datagrams per sendmmsg/recvmmsg call. */
#define UB_MAX_BATCH 64
/* Segments per UDP_SEGMENT send that every kernel since 4.18 accepts (6.9+ takes 128). */
#define UB_GSO_MAX_SEGMENTS 64
/* One GSO send is one UDP datagram on its way down: its payload must fit in 64 KiB. */
#define UB_GSO_MAX_BYTES 65507
/* Sources remembered by drain; more than UB_MAX_BATCH, so one drain never evicts its own. */
#define UB_SOURCE_SLOTS 256
/* Ints per drained message in the caller's record array: offset, length, segment size, port, source slot. */
#define UB_RECORD_INTS 5

typedef struct {
  struct sockaddr_storage addr;
  socklen_t len;
  uint32_t stamp; /* the drain that last used the slot */
  uint8_t used;
  uint8_t fresh; /* (re)assigned: the caller's name for the slot is stale */
} ub_source;

typedef union {
  char buf[CMSG_SPACE(sizeof(int))];
  struct cmsghdr align;
} ub_control;

typedef struct {
  int fd;
  int family;         /* AF_INET or AF_INET6 */
  int gso;             /* UDP_SEGMENT usable */
  int gso_off_errno;   /* why it was turned off, 0 if never */
  int gro;             /* UDP_GRO enabled */
  int last_errno;      /* why the last send or drain stopped early */
  uint64_t truncated;  /* datagrams dropped by drain: larger than a slot */
  uint64_t send_calls; /* sendmsg/sendmmsg calls made */
  uint32_t drain_stamp;
  struct mmsghdr msgs[UB_MAX_BATCH];
  struct iovec iov[UB_MAX_BATCH];
  struct sockaddr_storage names[UB_MAX_BATCH];
  ub_control control[UB_MAX_BATCH];
  ub_source sources[UB_SOURCE_SLOTS];
} ub_socket;

/* Takes a duplicate of fd after checking it is a UDP socket; gso = 0 never uses UDP_SEGMENT. Returns 0 or -errno. */
int ub_open(ub_socket *s, int fd, int gso);
void ub_close(ub_socket *s);
/* Turns UDP_GRO on or off; returns 0 or -errno. */
int ub_set_gro(ub_socket *s, int on);

/*
 * Sends `length` bytes as datagrams of `segment` bytes (the last may be shorter) to `to`:
 * UDP_SEGMENT when usable, else sendmmsg. Returns the number of datagrams sent; when fewer than
 * all, last_errno says why. Turns GSO off for good when the kernel or device refuses it.
 */
size_t ub_send_segments(ub_socket *s, const uint8_t *data, size_t length, size_t segment,
                        const struct sockaddr *to, socklen_t tolen);

/* Sends the first n (<= UB_MAX_BATCH) of s->msgs, already filled in; returns how many went, or -errno. */
int ub_send_prepared(ub_socket *s, unsigned n);

/*
 * recvmmsg(MSG_DONTWAIT) into `slots` slots of `slot_size` bytes of `slab`; writes one record of
 * UB_RECORD_INTS ints per message. Returns the number of records, 0 when nothing waits (or on an
 * error: last_errno).
 */
int ub_drain(ub_socket *s, uint8_t *slab, size_t slot_size, unsigned slots, int32_t *records);

#endif
