import { type AgentIdentity, createEnvelope, type Envelope, signHelloProof } from '@mesh-agent/host';
import WebSocket from 'ws';

/**
 * A lightweight agent for load: one WebSocket, a hello with its proof of key, and a count of the
 * bytes it receives. Only answers to its own requests are parsed; member updates are just counted.
 */
export class SimAgent {
  bytesIn = 0;
  readonly #pending = new Map<string, (envelope: Envelope) => void>();

  private constructor(
    readonly agentId: string,
    private readonly ws: WebSocket,
  ) {}

  /** Connects and resolves once the server has welcomed the agent into `room`. */
  static connect(url: string, agentId: string, identity: AgentIdentity, room: string): Promise<SimAgent> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const agent = new SimAgent(agentId, ws);
    return new Promise((resolve, reject) => {
      let welcomed = false;
      ws.on('error', reject);
      ws.on('close', (code, reason) => {
        if (!welcomed) reject(new Error(`${agentId}: closed before the welcome (${code} ${reason})`));
      });
      ws.on('message', (raw: Buffer) => {
        agent.bytesIn += raw.length;
        if (welcomed && !raw.includes('request_id')) return;
        const envelope = JSON.parse(raw.toString('utf8')) as Envelope;
        if (envelope.type === 'system.challenge') {
          const nonce = envelope.data.nonce as string;
          const hello = {
            agent_id: agentId,
            version: 'bench',
            capabilities: ['file'],
            addresses: [{ address: '127.0.0.1', port: 9 }],
            fingerprint: identity.fingerprint,
            room,
            ...signHelloProof(identity, nonce, agentId, identity.fingerprint),
          };
          ws.send(JSON.stringify(createEnvelope('system.hello', hello)));
        } else if (envelope.type === 'system.welcome') {
          welcomed = true;
          resolve(agent);
        } else if (envelope.type === 'system.error' && !welcomed) {
          reject(new Error(`${agentId}: ${envelope.data.message}`));
        }
        const ref = envelope.data.request_id ?? envelope.data.ref_id;
        if (typeof ref === 'string') agent.#answer(ref, envelope);
      });
    });
  }

  #answer(ref: string, envelope: Envelope): void {
    const waiter = this.#pending.get(ref);
    this.#pending.delete(ref);
    waiter?.(envelope);
  }

  /** Sends a request and resolves with the server's answer (the event naming it). */
  request(type: string, data: Record<string, unknown>): Promise<Envelope> {
    const envelope = createEnvelope(type, data);
    return new Promise((resolve) => {
      this.#pending.set(envelope.id, resolve);
      this.ws.send(JSON.stringify(envelope));
    });
  }

  close(): void {
    this.ws.terminate();
  }
}
