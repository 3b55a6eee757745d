import type { HostConfig } from '../config/schema.js';
import type { EventLine, HostHooks, PluginEventPayload } from '../hooks/hooks.js';
import type { PeerStanding } from '../host/peer-standings.js';
import type { Logger } from '../log/logger.js';
import type { PeerConnection } from '../p2p/peer-connection.js';
import type { PeerInfo } from '../p2p/types.js';
import type { SessionGrant } from '../tokens/token-cache.js';
import type { FrameChannel } from '../wire/channel.js';
import type { MessageRegistry } from '../wire/registry.js';

/** Where to reach a peer: through the control plane, or directly with an out-of-band token. */
export type PeerTarget =
  | { agentId: string }
  | { address: string; port: number; sessionId: string; token: string; fingerprint: string };

/** A stream a plugin opened: the peer it reached, the connection (for more streams), the channel. */
export interface OpenedStream {
  peer: PeerInfo;
  connection: PeerConnection;
  channel: FrameChannel;
}

/** The APIs of the plugins a plugin depends on, by plugin name. */
export type DependencyApis = Record<string, unknown>;
/** What a plugin without dependencies receives. */
export type NoDependencies = Record<never, never>;

/**
 * A mesh-agent plugin: the default export of the module that the package's
 * `package.json#meshAgent.main` names. `apply` taps `host.hooks`, registers what it handles and
 * returns the plugin's API: what its own commands and the plugins that depend on it use.
 */
export interface MeshPlugin<
  Config extends object = Record<string, unknown>,
  Api = void,
  Deps extends DependencyApis = NoDependencies,
> {
  /** Config key (`plugins.<name>`) and log name; must equal `package.json#meshAgent.name`. */
  name: string;
  /** JSON schema of the plugin's config section (without `enabled`), with defaults. */
  configSchema?: object;
  /**
   * Plugins this one needs. The host applies them first and hands their APIs to `apply`; it
   * refuses to start when one of them is disabled or not installed.
   */
  dependsOn?: readonly (keyof Deps & string)[];
  /** `config` is the plugin's section, validated against `configSchema` with its defaults filled in. */
  apply(host: PluginHost, config: Config, deps: Deps): Api | Promise<Api>;
}

/**
 * Any plugin, its config and API types forgotten: what the host holds after importing one.
 * Spelled out rather than `MeshPlugin<object, unknown, DependencyApis>`, so that a plugin's own
 * types are compared structurally (method parameters are bivariant) and fit.
 */
export interface AnyMeshPlugin {
  name: string;
  configSchema?: object;
  dependsOn?: readonly string[];
  apply(host: PluginHost, config: object, deps: DependencyApis): unknown;
}

/** The validated config section a plugin's `apply` receives. */
export type ConfigOf<P extends AnyMeshPlugin> = Parameters<P['apply']>[1];
/** The API a plugin's `apply` returns. */
export type ApiOf<P extends AnyMeshPlugin> = Awaited<ReturnType<P['apply']>>;

/** A plugin as the host applied it: its validated config and the API its `apply` returned. */
export interface AppliedPlugin<P extends AnyMeshPlugin = AnyMeshPlugin> {
  config: ConfigOf<P>;
  api: ApiOf<P>;
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
  declareEvent(name: string, description: string, line?: EventLine): void;
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
  /** How a connected peer reached this agent: as a member of its room, with a direct-mode token. */
  standing(peer: PeerInfo): PeerStanding;
  /**
   * Sends a plugin event (`<plane>.<name>`, not a core plane) to another agent through the
   * signaling server, which relays it with `from` set. Waits up to 10 s for the connection.
   */
  relay(to: string, type: string, data?: Record<string, unknown>): Promise<void>;
}

/** Identity helper so plugin authors get type checking without importing a class. */
export function definePlugin<
  Config extends object = Record<string, unknown>,
  Api = void,
  Deps extends DependencyApis = NoDependencies,
>(plugin: MeshPlugin<Config, Api, Deps>): MeshPlugin<Config, Api, Deps> {
  return plugin;
}
