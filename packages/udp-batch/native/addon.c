/* N-API face of udp_batch: the UdpBatchNative class, and a libuv poll watcher for reads. */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "address.h"
#include "udp_batch.h"

#define CHECK(env, call)                                 \
  do {                                                   \
    if ((call) != napi_ok) {                             \
      napi_throw_error((env), NULL, "N-API call failed: " #call); \
      return NULL;                                       \
    }                                                    \
  } while (0)

#define ADDRESS_TEXT (INET6_ADDRSTRLEN + IF_NAMESIZE + 2)
/* Parsed destinations kept per socket: a driver sends to a handful of peers at a time. */
#define DESTINATIONS 8

typedef struct {
  char text[ADDRESS_TEXT];
  uint16_t port;
  struct sockaddr_storage addr;
  socklen_t len;
} destination;

typedef struct {
  ub_socket sock;
  napi_env env;
  destination destinations[DESTINATIONS];
  unsigned destination_count, next_destination;
  uv_poll_t *poll;
  napi_ref on_readable;
  napi_async_context async;
  napi_async_cleanup_hook_handle teardown;
  int polls_closing;
  int teardown_waits; /* the environment is going away and waits for the poll handle to close */
  int finalized;
} batch;

static void free_when_unused(batch *b) {
  if (b->finalized && b->polls_closing == 0) free(b);
}

static void on_poll_closed(uv_handle_t *handle) {
  batch *b = handle->data;
  free(handle);
  b->polls_closing--;
  if (b->teardown_waits && b->polls_closing == 0) {
    b->teardown_waits = 0;
    napi_remove_async_cleanup_hook(b->teardown);
    b->teardown = NULL;
  }
  free_when_unused(b);
}

static void stop_poll(batch *b) {
  if (!b->poll) return;
  uv_poll_stop(b->poll);
  b->polls_closing++;
  uv_close((uv_handle_t *)b->poll, on_poll_closed);
  b->poll = NULL;
  napi_delete_reference(b->env, b->on_readable);
  b->on_readable = NULL;
}

static void close_batch(batch *b) {
  stop_poll(b);
  ub_close(&b->sock);
}

static void release_async(batch *b) {
  if (b->async) napi_async_destroy(b->env, b->async);
  b->async = NULL;
}

/* A worker exiting closes its loop: the poll handle must be closed by then, or Node aborts. */
static void on_teardown(napi_async_cleanup_hook_handle handle, void *data) {
  batch *b = data;
  (void)handle;
  close_batch(b);
  release_async(b);
  if (b->polls_closing > 0) {
    b->teardown_waits = 1;
    return;
  }
  napi_remove_async_cleanup_hook(b->teardown);
  b->teardown = NULL;
}

static void finalize(napi_env env, void *data, void *hint) {
  batch *b = data;
  (void)env;
  (void)hint;
  close_batch(b);
  if (b->teardown && !b->teardown_waits) {
    napi_remove_async_cleanup_hook(b->teardown);
    b->teardown = NULL;
  }
  release_async(b);
  b->finalized = 1;
  free_when_unused(b);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)status;
  (void)events;
  batch *b = handle->data;
  napi_env env = b->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, global, result;
  /* napi_make_callback wants an object as the receiver. */
  if (napi_get_reference_value(env, b->on_readable, &callback) == napi_ok &&
      napi_get_global(env, &global) == napi_ok &&
      napi_make_callback(env, b->async, global, callback, 0, NULL, &result) == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

static batch *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok) {
    napi_throw_type_error(env, NULL, "not a UdpBatchNative");
    return NULL;
  }
  batch *b = data;
  if (b->sock.fd < 0) {
    napi_throw_error(env, "EBADF", "UdpBatchNative is closed");
    return NULL;
  }
  return b;
}

static int get_u32(napi_env env, napi_value v, uint32_t *out) {
  if (napi_get_value_uint32(env, v, out) == napi_ok) return 1;
  napi_throw_type_error(env, NULL, "expected a non-negative integer");
  return 0;
}

/* The bytes [offset, offset + length) of a Uint8Array, or NULL after throwing. */
static uint8_t *get_bytes(napi_env env, napi_value array, uint32_t offset, uint32_t length) {
  napi_typedarray_type type;
  size_t size;
  void *data;
  if (napi_get_typedarray_info(env, array, &type, &size, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "expected a Uint8Array");
    return NULL;
  }
  if ((size_t)offset + length > size) {
    napi_throw_range_error(env, NULL, "offset + length exceeds the buffer");
    return NULL;
  }
  return (uint8_t *)data + offset;
}

/* The socket address of (text, port), parsed once and then found among recent destinations. */
static const destination *find_destination(napi_env env, batch *b, napi_value text, uint32_t port) {
  char host[ADDRESS_TEXT];
  size_t len;
  if (port > 65535 ||
      napi_get_value_string_latin1(env, text, host, sizeof(host), &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected an IP address and a port");
    return NULL;
  }
  for (unsigned i = 0; i < b->destination_count; i++) {
    const destination *d = &b->destinations[i];
    if (d->port == port && strcmp(d->text, host) == 0) return d;
  }
  destination *d = &b->destinations[b->next_destination];
  int err = ub_parse_address(host, (uint16_t)port, b->sock.family, &d->addr, &d->len);
  if (err != 0) {
    napi_throw_type_error(env, "EINVAL", "not an IP address of the socket's family");
    return NULL;
  }
  memcpy(d->text, host, len + 1);
  d->port = (uint16_t)port;
  b->next_destination = (b->next_destination + 1) % DESTINATIONS;
  if (b->destination_count < DESTINATIONS) b->destination_count++;
  return d;
}

static napi_value make_u32(napi_env env, uint32_t n) {
  napi_value v;
  napi_create_uint32(env, n, &v);
  return v;
}

/* new UdpBatchNative(fd, gso): batches on a duplicate of a bound node:dgram socket's fd. */
static napi_value construct(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  int32_t fd;
  bool gso;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_value_bool(env, argv[1], &gso) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected (fd, gso)");
    return NULL;
  }
  batch *b = calloc(1, sizeof(*b));
  if (!b) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  int err = ub_open(&b->sock, fd, gso);
  if (err != 0) {
    free(b);
    napi_throw_error(env, NULL, strerror(-err));
    return NULL;
  }
  b->env = env;
  if (napi_wrap(env, self, b, finalize, NULL, NULL) != napi_ok) {
    ub_close(&b->sock);
    free(b);
    napi_throw_error(env, NULL, "napi_wrap failed");
    return NULL;
  }
  napi_add_async_cleanup_hook(env, on_teardown, b, &b->teardown);
  return self;
}

/* sendSegments(buf, offset, length, segmentSize, address, port) → datagrams sent. */
static napi_value send_segments(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  batch *b = unwrap(env, info, &argc, argv);
  if (!b) return NULL;
  uint32_t offset, length, segment, port;
  if (!get_u32(env, argv[1], &offset) || !get_u32(env, argv[2], &length) ||
      !get_u32(env, argv[3], &segment) || !get_u32(env, argv[5], &port))
    return NULL;
  if (segment == 0 || segment > 65535) {
    napi_throw_range_error(env, NULL, "segmentSize must be 1..65535");
    return NULL;
  }
  uint8_t *data = get_bytes(env, argv[0], offset, length);
  if (!data) return NULL;
  const destination *to = find_destination(env, b, argv[4], port);
  if (!to) return NULL;
  size_t sent = ub_send_segments(&b->sock, data, length, segment, (const struct sockaddr *)&to->addr, to->len);
  return make_u32(env, (uint32_t)sent);
}

/* sendMany(packets, start, count) → how many of packets[start, start + min(count, 64)) went out. */
static napi_value send_many(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  batch *b = unwrap(env, info, &argc, argv);
  if (!b) return NULL;
  uint32_t start, count;
  if (!get_u32(env, argv[1], &start) || !get_u32(env, argv[2], &count)) return NULL;
  if (count > UB_MAX_BATCH) count = UB_MAX_BATCH;
  ub_socket *s = &b->sock;
  for (uint32_t i = 0; i < count; i++) {
    napi_value packet, buf, v_offset, v_length, address, v_port;
    CHECK(env, napi_get_element(env, argv[0], start + i, &packet));
    CHECK(env, napi_get_named_property(env, packet, "buf", &buf));
    CHECK(env, napi_get_named_property(env, packet, "offset", &v_offset));
    CHECK(env, napi_get_named_property(env, packet, "length", &v_length));
    CHECK(env, napi_get_named_property(env, packet, "address", &address));
    CHECK(env, napi_get_named_property(env, packet, "port", &v_port));
    uint32_t offset, length, port;
    if (!get_u32(env, v_offset, &offset) || !get_u32(env, v_length, &length) || !get_u32(env, v_port, &port))
      return NULL;
    uint8_t *data = get_bytes(env, buf, offset, length);
    if (!data) return NULL;
    const destination *to = find_destination(env, b, address, port);
    if (!to) return NULL;
    memcpy(&s->names[i], &to->addr, to->len);
    s->iov[i].iov_base = data;
    s->iov[i].iov_len = length;
    struct msghdr *h = &s->msgs[i].msg_hdr;
    memset(h, 0, sizeof(*h));
    h->msg_name = &s->names[i];
    h->msg_namelen = to->len;
    h->msg_iov = &s->iov[i];
    h->msg_iovlen = 1;
  }
  s->last_errno = 0;
  int sent = count > 0 ? ub_send_prepared(s, count) : 0;
  if (sent < 0) {
    s->last_errno = -sent;
    sent = 0;
  }
  return make_u32(env, (uint32_t)sent);
}

/* setGro(on) → 0, or the errno that refused it. */
static napi_value set_gro(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  batch *b = unwrap(env, info, &argc, argv);
  if (!b) return NULL;
  bool on;
  if (napi_get_value_bool(env, argv[0], &on) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a boolean");
    return NULL;
  }
  return make_u32(env, (uint32_t)-ub_set_gro(&b->sock, on));
}

/* drain(slab, slotSize, records, names) → messages received; names[slot] is kept up to date. */
static napi_value drain(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  batch *b = unwrap(env, info, &argc, argv);
  if (!b) return NULL;
  uint32_t slot_size;
  if (!get_u32(env, argv[1], &slot_size)) return NULL;
  napi_typedarray_type type;
  size_t slab_size, record_ints;
  void *slab, *records;
  if (napi_get_typedarray_info(env, argv[0], &type, &slab_size, &slab, NULL, NULL) != napi_ok ||
      type != napi_uint8_array ||
      napi_get_typedarray_info(env, argv[2], &type, &record_ints, &records, NULL, NULL) != napi_ok ||
      type != napi_int32_array || slot_size == 0) {
    napi_throw_type_error(env, NULL, "expected (Uint8Array, slotSize, Int32Array, string[])");
    return NULL;
  }
  size_t slots = slab_size / slot_size;
  if (slots > record_ints / UB_RECORD_INTS) slots = record_ints / UB_RECORD_INTS;
  int count = ub_drain(&b->sock, slab, slot_size, (unsigned)slots, records);
  for (int i = 0; i < count; i++) {
    int32_t slot = ((int32_t *)records)[i * UB_RECORD_INTS + 4];
    ub_source *source = &b->sock.sources[slot];
    if (!source->fresh) continue;
    char text[ADDRESS_TEXT];
    size_t len = ub_format_address(&source->addr, text, sizeof(text));
    napi_value name;
    CHECK(env, napi_create_string_latin1(env, text, len, &name));
    CHECK(env, napi_set_element(env, argv[3], (uint32_t)slot, name));
    source->fresh = 0;
  }
  return make_u32(env, (uint32_t)count);
}

/* poll(callback): calls callback whenever the socket is readable; poll(null) stops. */
static napi_value poll(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  batch *b = unwrap(env, info, &argc, argv);
  if (!b) return NULL;
  napi_valuetype kind;
  CHECK(env, napi_typeof(env, argv[0], &kind));
  stop_poll(b);
  if (kind != napi_function) return NULL;
  uv_loop_t *loop;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  if (!b->async) {
    napi_value name;
    CHECK(env, napi_create_string_latin1(env, "UdpBatch", NAPI_AUTO_LENGTH, &name));
    CHECK(env, napi_async_init(env, NULL, name, &b->async));
  }
  uv_poll_t *handle = malloc(sizeof(*handle));
  if (!handle) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  int err = uv_poll_init(loop, handle, b->sock.fd);
  if (err == 0) {
    handle->data = b;
    err = uv_poll_start(handle, UV_READABLE, on_readable);
    if (err != 0) {
      b->polls_closing++;
      uv_close((uv_handle_t *)handle, on_poll_closed);
    }
  } else {
    free(handle);
  }
  if (err != 0) {
    napi_throw_error(env, uv_err_name(err), uv_strerror(err));
    return NULL;
  }
  b->poll = handle;
  CHECK(env, napi_create_reference(env, argv[0], 1, &b->on_readable));
  return NULL;
}

/* close(): stops polling and closes our duplicate; node:dgram's socket stays open. */
static napi_value close_method(napi_env env, napi_callback_info info) {
  napi_value self;
  void *data;
  CHECK(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  CHECK(env, napi_unwrap(env, self, &data));
  close_batch(data);
  return NULL;
}

static batch *peek(napi_env env, napi_callback_info info) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) != napi_ok ||
      napi_unwrap(env, self, &data) != napi_ok)
    return NULL;
  return data;
}

static napi_value get_gso(napi_env env, napi_callback_info info) {
  batch *b = peek(env, info);
  napi_value v;
  CHECK(env, napi_get_boolean(env, b && b->sock.gso, &v));
  return v;
}

static napi_value get_gso_off_errno(napi_env env, napi_callback_info info) {
  batch *b = peek(env, info);
  return make_u32(env, b ? (uint32_t)b->sock.gso_off_errno : 0);
}

static napi_value get_last_errno(napi_env env, napi_callback_info info) {
  batch *b = peek(env, info);
  return make_u32(env, b ? (uint32_t)b->sock.last_errno : 0);
}

static napi_value get_truncated(napi_env env, napi_callback_info info) {
  batch *b = peek(env, info);
  napi_value v;
  CHECK(env, napi_create_double(env, b ? (double)b->sock.truncated : 0, &v));
  return v;
}

static napi_value get_send_calls(napi_env env, napi_callback_info info) {
  batch *b = peek(env, info);
  napi_value v;
  CHECK(env, napi_create_double(env, b ? (double)b->sock.send_calls : 0, &v));
  return v;
}

/*
 * Test support: SO_NO_CHECK on fd. The kernel then refuses GSO sends with EINVAL, as it refuses
 * them with EIO on a device without checksum offload, while plain sends still go.
 */
static napi_value refuse_gso(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  int on = 1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      setsockopt(fd, SOL_SOCKET, SO_NO_CHECK, &on, sizeof(on)) != 0) {
    napi_throw_error(env, NULL, "SO_NO_CHECK failed");
    return NULL;
  }
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"sendSegments", NULL, send_segments, NULL, NULL, NULL, napi_default, NULL},
      {"sendMany", NULL, send_many, NULL, NULL, NULL, napi_default, NULL},
      {"setGro", NULL, set_gro, NULL, NULL, NULL, napi_default, NULL},
      {"drain", NULL, drain, NULL, NULL, NULL, napi_default, NULL},
      {"poll", NULL, poll, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_method, NULL, NULL, NULL, napi_default, NULL},
      {"gso", NULL, NULL, get_gso, NULL, NULL, napi_default, NULL},
      {"gsoOffErrno", NULL, NULL, get_gso_off_errno, NULL, NULL, napi_default, NULL},
      {"lastErrno", NULL, NULL, get_last_errno, NULL, NULL, napi_default, NULL},
      {"truncated", NULL, NULL, get_truncated, NULL, NULL, napi_default, NULL},
      {"sendCalls", NULL, NULL, get_send_calls, NULL, NULL, napi_default, NULL},
  };
  napi_value cls;
  CHECK(env, napi_define_class(env, "UdpBatchNative", NAPI_AUTO_LENGTH, construct, NULL,
                               sizeof(props) / sizeof(props[0]), props, &cls));
  CHECK(env, napi_set_named_property(env, exports, "UdpBatchNative", cls));
  napi_value limits;
  CHECK(env, napi_create_object(env, &limits));
  CHECK(env, napi_set_named_property(env, limits, "maxBatch", make_u32(env, UB_MAX_BATCH)));
  CHECK(env, napi_set_named_property(env, limits, "gsoMaxSegments", make_u32(env, UB_GSO_MAX_SEGMENTS)));
  CHECK(env, napi_set_named_property(env, limits, "gsoMaxBytes", make_u32(env, UB_GSO_MAX_BYTES)));
  CHECK(env, napi_set_named_property(env, limits, "recordInts", make_u32(env, UB_RECORD_INTS)));
  CHECK(env, napi_set_named_property(env, limits, "sourceSlots", make_u32(env, UB_SOURCE_SLOTS)));
  CHECK(env, napi_set_named_property(env, exports, "limits", limits));
  napi_value refuse;
  CHECK(env, napi_create_function(env, "refuseGso", NAPI_AUTO_LENGTH, refuse_gso, NULL, &refuse));
  CHECK(env, napi_set_named_property(env, exports, "refuseGso", refuse));
  return exports;
}
