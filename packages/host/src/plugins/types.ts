import type { HostConfig } from '../config/schema.js';
import type { HostHooks, PluginEventPayload } from '../hooks/hooks.js';
import type { Logger } from '../log/logger.js';
import type { PeerConnection } from '../p2p/peer-connection.js';
import type { SessionGrant } from '../tokens/token-cache.js';
import type { FrameChannel } from '../wire/channel.js';
import type { MessageRegistry } from '../wire/registry.js';

/** Where to reach a peer: through the control plane, or directly with an out-of-band token. */
export type PeerTarget =
  | { agentId: string }
  | { address: string; port: number; sessionId: string; token: string; fingerprint: string };

export interface OpenedStream {
  peer: PeerConnection;
  channel: FrameChannel;
}

/**
 * A mesh-agent plugin: the default export of the module that the package's
 * `package.json#meshAgent.main` names. `apply` taps `host.hooks` and registers what it handles.
 */
export interface MeshPlugin<C extends object = Record<string, unknown>> {
  /** Config key (`plugins.<name>`) and log name; must equal `package.json#meshAgent.name`. */
  name: string;
  /** JSON schema of the plugin's config section (without `enabled`), with defaults. */
  configSchema?: object;
  apply(host: PluginHost, config: C): void | Promise<void>;
}

/** What a plugin sees of the host. */
export interface PluginHost {
  readonly hooks: HostHooks;
  readonly agentId: string;
  readonly config: Readonly<HostConfig>;
  /** The agent's home directory (identity, data, downloads). */
  readonly home: string;
  readonly log: Logger;
  /** Frame types of the data plane: plugins register the headers their streams carry. */
  readonly messages: MessageRegistry;
  /** Declares an event other plugins may observe through `hooks.pluginEvent`. */
  declareEvent(name: string, description: string): void;
  /** Emits a declared event to `hooks.pluginEvent.for(name)` and `hooks.anyPluginEvent`. */
  emit(name: string, payload: PluginEventPayload): void;
  /** Event names declared so far, with their descriptions. */
  declaredEvents(): ReadonlyMap<string, string>;
  /**
   * Opens a stream of a registered stream type to a peer: over an existing connection, a session
   * the control plane brokers (`{ agentId }`), or a direct-mode session. Resolves once accepted.
   */
  openStream(target: PeerTarget, streamType: string, fields?: Record<string, unknown>): Promise<OpenedStream>;
  /** Accepts a direct-mode session whose token the user handed over out of band. */
  acceptDirect(grant: Omit<SessionGrant, 'role' | 'peerAddresses'>): void;
}

/** Identity helper so plugin authors get type checking without importing a class. */
export function definePlugin<C extends object>(plugin: MeshPlugin<C>): MeshPlugin<C> {
  return plugin;
}
