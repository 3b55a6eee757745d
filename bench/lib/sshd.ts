import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { LOOPBACK, type Placement } from './placement.js';
import { freePort } from './proc.js';

export const SSHD = '/usr/sbin/sshd';

/**
 * An openssh-server of the benchmark's own (config, host key and authorized_keys in `dir`) on the
 * receiving side of `placement`: loopback by default.
 */
export class BenchSshd {
  private proc: ChildProcess | undefined;
  port = 0;
  private readonly clientKey: string;

  constructor(
    private readonly dir: string,
    private readonly placement: Placement = LOOPBACK,
  ) {
    this.clientKey = join(dir, 'client_key');
  }

  async start(): Promise<void> {
    if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: apt-get install -y openssh-server`);
    const hostKey = join(this.dir, 'host_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', this.clientKey]);
    execFileSync('cp', [`${this.clientKey}.pub`, join(this.dir, 'authorized_keys')]);
    // sshd insists on its privilege-separation directory.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    this.port = await freePort();
    const config = join(this.dir, 'sshd_config');
    writeFileSync(
      config,
      [
        `Port ${this.port}`,
        `ListenAddress ${this.placement.address('receiver')}`,
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${join(this.dir, 'authorized_keys')}`,
        `PidFile ${join(this.dir, 'sshd.pid')}`,
        'StrictModes no',
        'UsePAM no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        'Subsystem sftp internal-sftp',
        '',
      ].join('\n'),
    );
    // -D: stay in the foreground so the bench owns (and stops) the process.
    this.proc = spawn(
      ...this.placement.on('receiver', SSHD, ['-D', '-f', config, '-E', join(this.dir, 'sshd.log')]),
      {
        stdio: 'ignore',
      },
    );
    for (let i = 0; i < 100; i++) {
      try {
        execFileSync(...this.placement.on('sender', 'ssh', [...this.clientArgs(), 'true']), {
          stdio: 'ignore',
          timeout: 5000,
        });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error(`sshd did not come up; see ${join(this.dir, 'sshd.log')}`);
  }

  /** `ssh` arguments up to the remote command. */
  clientArgs(): string[] {
    return ['-p', String(this.port), ...this.options(), this.login];
  }

  /** `scp` arguments before the paths; remote paths are `${sshd.login}:<path>`. */
  scpArgs(): string[] {
    return ['-P', String(this.port), ...this.options()];
  }

  get login(): string {
    return `${userInfo().username}@${this.placement.address('receiver')}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  private options(): string[] {
    return [
      '-i',
      this.clientKey,
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'LogLevel=ERROR',
      '-o',
      'BatchMode=yes',
    ];
  }

  stop(): void {
    this.proc?.kill('SIGTERM');
  }
}
