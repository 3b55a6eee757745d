import { MeshCommand } from '../cli/base-command.js';
import { agentIdOf, identityDir } from '../identity/agent-id.js';
import { loadOrCreateIdentity } from '../identity/identity.js';

export default class Identity extends MeshCommand<typeof Identity> {
  static override summary =
    "Show the agent's id and certificate fingerprint (creates the identity on first use).";
  static override description =
    'The identity is a key pair and self-signed certificate kept in <home>/identity (mode 0600). ' +
    'Peers pin its SHA-256 fingerprint: give it to a peer for direct mode (--peer-fingerprint).';
  static override examples = [
    '<%= config.bin %> identity',
    '<%= config.bin %> identity --json',
    'MESH_AGENT_HOME=/tmp/alice <%= config.bin %> identity',
  ];
  static override enableJsonFlag = true;

  async run(): Promise<{ agentId: string; fingerprint: string; home: string; created: boolean }> {
    const agent = await this.loadAgent({}, 'none');
    const identity = await loadOrCreateIdentity(identityDir(agent.home));
    const agentId = agentIdOf(agent.config.agent.id, identity.fingerprint);
    this.log(`agent id:     ${agentId}\nfingerprint:  ${identity.fingerprint}\nhome:         ${agent.home}`);
    if (identity.created) this.logToStderr('(new identity created)');
    return { agentId, fingerprint: identity.fingerprint, home: agent.home, created: identity.created };
  }
}
