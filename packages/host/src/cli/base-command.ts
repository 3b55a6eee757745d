import { Command, Errors, Flags, type Interfaces } from '@oclif/core';
import { mergeConfig as mergeOverrides } from '../config/env.js';
import { ConfigError } from '../config/errors.js';
import type { Host, HostMode, HostStartOptions } from '../host/host.js';
import { LOG_FORMATS, LOG_LEVELS, type LogLevel } from '../log/levels.js';
import { pluginSection } from '../plugins/apply.js';
import type { AnyMeshPlugin, AppliedPlugin, ConfigOf } from '../plugins/types.js';
import { type AgentConfig, loadAgentConfig, type PluginLoading } from './agent-config.js';
import { blameSetting } from './blame-setting.js';
import { PartialFailure, UsageError } from './errors.js';

export type MeshFlags<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof MeshCommand)['baseFlags'] & T['flags']
>;
export type MeshArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

/** What a plugin's command works with: the host, and its plugin's validated config and API. */
export interface PluginContext<P extends AnyMeshPlugin> extends AppliedPlugin<P> {
  host: Host;
}

/**
 * Base of every mesh-agent command: the global flags (`--config`, `--home`, `--log-level`,
 * `--log-format`) and the one place that turns every failure into words and an exit code (catch).
 */
export abstract class MeshCommand<T extends typeof Command> extends Command {
  static override baseFlags = {
    config: Flags.string({
      char: 'c',
      summary:
        'Config file to use (default: searched from the current directory up, then ~/.config/mesh-agent/).',
      env: 'MESH_AGENT_CONFIG',
      helpGroup: 'GLOBAL',
    }),
    home: Flags.string({
      summary: 'Agent home: identity, data and downloads (overrides agent.home and MESH_AGENT_HOME).',
      helpGroup: 'GLOBAL',
    }),
    'log-level': Flags.option({
      options: LOG_LEVELS,
      summary: 'Log level (logs go to stderr; default: warn, info for the daemon).',
      helpGroup: 'GLOBAL',
    })(),
    'log-format': Flags.option({
      options: LOG_FORMATS,
      summary: 'Log format on stderr (default: text on a terminal, json otherwise).',
      helpGroup: 'GLOBAL',
    })(),
  };

  /**
   * Log level unless the flag, the environment or the config file sets one: a one-shot command
   * only speaks up when something is wrong; the daemon (`run`) also says what it does.
   */
  static defaultLogLevel: LogLevel = 'warn';

  protected flags!: MeshFlags<T>;
  protected args!: MeshArgs<T>;

  override async init(): Promise<void> {
    await super.init();
    const { args, flags } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof MeshCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as MeshFlags<T>;
    this.args = args as MeshArgs<T>;
  }

  /** Config layers from this command's global flags; commands add their own on top. */
  protected globalOverrides(): Record<string, unknown> {
    const flags = this.flags as MeshFlags<typeof MeshCommand>;
    return {
      agent: { home: flags.home },
      log: { level: flags['log-level'], format: flags['log-format'] },
    };
  }

  /**
   * The effective config with the global flags and `overrides` (a partial config tree) on top.
   * Commands that run no host load less of the plugins (`plugins`, see PluginLoading) and start
   * in a fraction of the time.
   */
  protected async loadAgent(
    overrides: Record<string, unknown> = {},
    plugins: PluginLoading = 'all',
  ): Promise<AgentConfig> {
    const flags = this.flags as MeshFlags<typeof MeshCommand>;
    const fromFlags = mergeOverrides(this.globalOverrides(), overrides);
    const agent = await loadAgentConfig(this.config, {
      file: flags.config,
      overrides: fromFlags,
      defaults: { log: { level: (this.ctor as typeof MeshCommand).defaultLogLevel } },
      plugins,
    }).catch((error: unknown) => {
      throw error instanceof ConfigError ? blameSetting(error, fromFlags, process.env) : error;
    });
    // On stderr with --json too (this.warn would drop them): stdout keeps only the JSON.
    for (const warning of agent.warnings) Errors.warn(warning);
    return agent;
  }

  /** Runs `fn` with a started host, and always stops it afterwards. */
  protected async withHost<R>(
    mode: HostMode,
    overrides: Record<string, unknown>,
    fn: (host: Host) => Promise<R>,
  ): Promise<R> {
    const host = await newHost(await this.loadAgent(overrides));
    return whileStarted(host, mode, () => fn(host));
  }

  /**
   * A host, not yet started, with `plugin` (the command's own) applied: its validated config and
   * the API its `apply` returned. Throws a UsageError when the agent's config leaves it out.
   */
  protected async openPlugin<P extends AnyMeshPlugin>(
    plugin: P,
    overrides: Record<string, unknown>,
  ): Promise<PluginContext<P>> {
    const host = await newHost(await this.loadAgent(overrides));
    const applied = host.plugin(plugin);
    if (!applied) throw pluginDisabled(plugin);
    return { host, ...applied };
  }

  /** `plugin`'s validated config, for a command that needs no host. Same refusal as openPlugin. */
  protected async pluginConfig<P extends AnyMeshPlugin>(
    plugin: P,
    overrides: Record<string, unknown> = {},
  ): Promise<ConfigOf<P>> {
    const agent = await this.loadAgent(overrides, 'schemas');
    if (!agent.pluginNames.includes(plugin.name)) throw pluginDisabled(plugin);
    // loadAgentConfig validated the section against this plugin's schema and filled its defaults.
    return pluginSection(agent.config, plugin.name) as ConfigOf<P>;
  }

  /**
   * Runs `fn` with a started host and `plugin`'s config and API (see openPlugin); always stops the
   * host. `start` narrows what a daemon-mode host advertises and serves (see Host.start).
   */
  protected async withPlugin<P extends AnyMeshPlugin, R>(
    plugin: P,
    mode: HostMode,
    overrides: Record<string, unknown>,
    fn: (context: PluginContext<P>) => Promise<R>,
    start: HostStartOptions = {},
  ): Promise<R> {
    const context = await this.openPlugin(plugin, overrides);
    return whileStarted(context.host, mode, () => fn(context), start);
  }

  /**
   * Every failure in words (see explainError): `error: …` and `hint: …` on stderr, or
   * `{"error": {"code", "message", "hint"}}` on stdout with --json (a PartialFailure's result
   * around it). No class names, no stack.
   */
  protected override async catch(error: Error): Promise<unknown> {
    // `this.exit()` is how a command ends early on purpose; oclif handles it.
    if (error instanceof Errors.ExitError) throw error;
    // Loaded on failure only: it knows the host's error classes (signaling, QUIC), which a command
    // that runs no host never loads.
    const { errorJson, explainError, formatError } = await import('./explain-error.js');
    const explained = explainError(error, this.id);
    // One line: commands with their own --json print JSON lines, and a script reads this one too.
    if (this.wantsJson()) {
      const done = explained instanceof PartialFailure ? explained.result : {};
      process.stdout.write(`${JSON.stringify({ ...done, ...errorJson(explained) })}\n`);
    } else process.stderr.write(formatError(explained));
    // Said already: oclif only exits with the code.
    throw new Errors.ExitError(explained.exitCode);
  }

  /** --json was asked for: oclif's flag, or a command's own (share-terminal's JSON lines). */
  private wantsJson(): boolean {
    if (this.jsonEnabled()) return true;
    const end = this.argv.indexOf('--');
    return (end === -1 ? this.argv : this.argv.slice(0, end)).includes('--json');
  }
}

/** The host's code (QUIC, the native addon, every plugin) loads only for commands that start one. */
async function newHost(agent: AgentConfig): Promise<Host> {
  const { createHost } = await import('./create-host.js');
  return createHost(agent);
}

async function whileStarted<R>(
  host: Host,
  mode: HostMode,
  fn: () => Promise<R>,
  start: HostStartOptions = {},
): Promise<R> {
  await host.start(mode, start);
  try {
    return await fn();
  } finally {
    await host.stop();
  }
}

function pluginDisabled(plugin: AnyMeshPlugin): UsageError {
  return new UsageError(
    `the ${plugin.name} plugin is disabled in this agent’s config (plugins.${plugin.name}.enabled)`,
  );
}
