import type { BackplaneHealth } from './cluster/backplane.js';

/** What `GET /healthz` answers: this node's load and whether its shared store is reachable. */
export interface ServerHealth {
  /** `degraded`: the node serves its own agents only (its Redis is away). */
  status: 'ok' | 'degraded';
  connections: number;
  agents: number;
  rooms: number;
  sessions_brokered: number;
  messages_relayed: number;
  /** Connections turned away by `maxConnections` or `maxConnectionsPerAddress`. */
  connections_refused: number;
  /** Clients dropped for holding more than `maxBufferedBytes` unread. */
  slow_clients_dropped: number;
  /** Session requests refused by the per-agent rate. */
  session_requests_limited: number;
  backplane: BackplaneHealth;
}

/** The same figures in the Prometheus text format, for `GET /metrics`. */
export function prometheusText(health: ServerHealth): string {
  const { backplane } = health;
  const lines: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, value: number) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
  };
  metric('mesh_signal_connections', 'gauge', 'Agent connections this node holds.', health.connections);
  metric('mesh_signal_agents', 'gauge', 'Distinct agents connected to this node.', health.agents);
  metric('mesh_signal_rooms', 'gauge', 'Rooms with an agent on this node.', health.rooms);
  metric(
    'mesh_signal_sessions_brokered_total',
    'counter',
    'P2P sessions this node minted.',
    health.sessions_brokered,
  );
  metric(
    'mesh_signal_messages_relayed_total',
    'counter',
    'Plugin events this node relayed.',
    health.messages_relayed,
  );
  metric(
    'mesh_signal_connections_refused_total',
    'counter',
    'Connections refused by the connection limits.',
    health.connections_refused,
  );
  metric(
    'mesh_signal_slow_clients_dropped_total',
    'counter',
    'Clients dropped for not reading.',
    health.slow_clients_dropped,
  );
  metric(
    'mesh_signal_session_requests_limited_total',
    'counter',
    'Session requests refused by the per-agent rate.',
    health.session_requests_limited,
  );
  if (backplane.store === 'redis') {
    metric(
      'mesh_signal_redis_up',
      'gauge',
      'Whether the shared Redis is reachable (1) or not (0).',
      backplane.state === 'ready' ? 1 : 0,
    );
    if (backplane.round_trip_ms !== undefined)
      metric(
        'mesh_signal_redis_round_trip_seconds',
        'gauge',
        'Last Redis PING round trip.',
        backplane.round_trip_ms / 1000,
      );
  }
  return `${lines.join('\n')}\n`;
}
