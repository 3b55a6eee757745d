// Apart from the wire protocol, so the config schema loads without the host.

/** Largest chunk body accepted on the wire (the frame limit is 1 MiB + 64 KiB). */
export const MAX_CHUNK = 1024 * 1024;
/** Smallest chunk size a sender may announce: tinier chunks only cost frames. */
export const MIN_CHUNK = 4 * 1024;
/** 1 MiB: a quarter of the frames, awaits and writes of 256 KiB chunks; measured faster end to end. */
export const DEFAULT_CHUNK = 1024 * 1024;
