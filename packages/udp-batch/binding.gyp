{
  "targets": [
    {
      "target_name": "udp_batch",
      "sources": ["native/addon.c", "native/address.c", "native/recv.c", "native/send.c", "native/socket.c"],
      "defines": ["_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
      "conditions": [["OS != 'linux'", { "type": "none", "sources": [] }]]
    }
  ]
}
