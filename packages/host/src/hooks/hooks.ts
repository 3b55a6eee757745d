import { AsyncParallelHook, AsyncSeriesBailHook, AsyncSeriesHook, HookMap, SyncHook } from 'tapable';
import type { IncomingStream, PeerInfo } from '../p2p/types.js';
import type { Envelope } from '../signaling/protocol.js';

/** A stream handler answers `true` once it has taken the stream; the host rejects streams nobody takes. */
export type StreamHook = AsyncSeriesBailHook<[IncomingStream], true | undefined>;

export interface HostHooks {
  /** Before the host connects anywhere: plugins open files, start timers. */
  readonly start: AsyncSeriesHook<[]>;
  /** Signaling and the QUIC endpoint are up. */
  readonly ready: AsyncParallelHook<[]>;
  /** The host is shutting down: flush and release. */
  readonly stop: AsyncSeriesHook<[]>;
  /** Control-plane events by their `type` (`room.members`, `p2p.session`, plugin prefixes …). */
  readonly event: HookMap<SyncHook<[Envelope]>>;
  readonly peerConnected: SyncHook<[PeerInfo]>;
  readonly peerDisconnected: SyncHook<[PeerInfo, string]>;
  /** Incoming data-plane streams by stream type. */
  readonly stream: HookMap<StreamHook>;
  /** Events plugins emit for each other (`transfer.completed` …), by name. */
  readonly pluginEvent: HookMap<SyncHook<[PluginEventPayload]>>;
  /** Every plugin event, for observers that match names by pattern. */
  readonly anyPluginEvent: SyncHook<[string, PluginEventPayload]>;
}

export type PluginEventPayload = Readonly<Record<string, unknown>>;

/**
 * What a person running the daemon reads when an event happens ("received note.txt from alice →
 * …"); undefined when this occurrence is not worth a line. Declared with the event, because the
 * plugin that emits it knows what its payload means.
 */
export type EventLine = (payload: PluginEventPayload) => string | undefined;

export function createHooks(): HostHooks {
  return Object.freeze({
    start: new AsyncSeriesHook<[]>(),
    ready: new AsyncParallelHook<[]>(),
    stop: new AsyncSeriesHook<[]>(),
    event: new HookMap(() => new SyncHook<[Envelope]>(['envelope'])),
    peerConnected: new SyncHook<[PeerInfo]>(['peer']),
    peerDisconnected: new SyncHook<[PeerInfo, string]>(['peer', 'reason']),
    stream: new HookMap(() => new AsyncSeriesBailHook<[IncomingStream], true | undefined>(['stream'])),
    pluginEvent: new HookMap(() => new SyncHook<[PluginEventPayload]>(['payload'])),
    anyPluginEvent: new SyncHook<[string, PluginEventPayload]>(['name', 'payload']),
  });
}
