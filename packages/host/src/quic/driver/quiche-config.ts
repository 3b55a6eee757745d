import type { Config } from '@matrixai/quic/native/index.js';
import { quiche } from '@matrixai/quic/native/index.js';
import type { QuicOptions } from '../options.js';
import type { DriverStartOptions } from '../protocol.js';

const ALPN = ['mesh-agent/1'];
const SIGALGS = 'ecdsa_secp256r1_sha256:ecdsa_secp384r1_sha384:ed25519:rsa_pss_rsae_sha256:rsa_pkcs1_sha256';

/** quiche's configs for the endpoint's peers: loopback peers get the large datagrams a local path allows. */
export class QuicheConfigs {
  readonly options: QuicOptions;
  private readonly config: Config;
  private readonly loopbackConfig: Config;

  constructor(opts: DriverStartOptions) {
    this.options = opts.options;
    this.config = buildConfig(opts, opts.options.maxUdpPayload);
    this.loopbackConfig = buildConfig(opts, opts.options.loopbackUdpPayload);
  }

  forPeer(host: string): Config {
    return isLoopback(host) ? this.loopbackConfig : this.config;
  }

  /** Largest datagram we send to this peer. */
  sendPayload(host: string): number {
    return isLoopback(host) ? this.options.loopbackUdpPayload : this.options.maxUdpPayload;
  }
}

function buildConfig(opts: DriverStartOptions, sendPayload: number): Config {
  const o = opts.options;
  const enc = new TextEncoder();
  // verifyPeer + verifyAllowFail: request the peer's certificate but let us judge it (pinned fingerprints, no CA).
  const config = quiche.Config.withBoringSslCtx(
    true,
    true,
    null,
    [enc.encode(opts.keyPem)],
    [enc.encode(opts.certPem)],
    SIGALGS,
  );
  config.setApplicationProtos(ALPN);
  config.grease(true);
  config.setMaxIdleTimeout(o.idleTimeoutMs);
  // Accept the largest we might be sent; what we send depends on the path (forPeer).
  config.setMaxRecvUdpPayloadSize(Math.max(o.maxUdpPayload, o.loopbackUdpPayload));
  config.setMaxSendUdpPayloadSize(sendPayload);
  config.setInitialMaxData(o.initialMaxData);
  config.setInitialMaxStreamDataBidiLocal(o.initialMaxStreamData);
  config.setInitialMaxStreamDataBidiRemote(o.initialMaxStreamData);
  config.setInitialMaxStreamDataUni(0);
  config.setInitialMaxStreamsBidi(o.maxConcurrentStreams);
  config.setInitialMaxStreamsUni(0);
  config.setMaxStreamWindow(o.maxStreamWindow);
  config.setMaxConnectionWindow(o.maxConnectionWindow);
  config.setCcAlgorithmName(o.congestionControl);
  config.setDisableActiveMigration(true);
  return config;
}

/** 127.0.0.0/8 and ::1 (also IPv4-mapped): a path inside this machine, with no MTU to speak of. */
function isLoopback(address: string): boolean {
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}
