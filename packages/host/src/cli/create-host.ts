import { Host } from '../host/host.js';
import { agentIdOf, identityDir } from '../identity/agent-id.js';
import { loadOrCreateIdentity } from '../identity/identity.js';
import { createLogger } from '../log/logger.js';
import type { AgentConfig } from './agent-config.js';

/** A host with the agent's identity and its enabled plugins applied, not yet started. */
export async function createHost(agent: Pick<AgentConfig, 'config' | 'home' | 'plugins'>): Promise<Host> {
  const identity = await loadOrCreateIdentity(identityDir(agent.home));
  const host = new Host({
    config: agent.config,
    home: agent.home,
    identity,
    agentId: agentIdOf(agent.config.agent.id, identity.fingerprint),
    log: createLogger(agent.config.log.level, 'mesh-agent', agent.config.log.format),
    plugins: agent.plugins,
  });
  await host.applyPlugins();
  return host;
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const done = (signal: NodeJS.Signals) => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve(signal);
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}
