import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Flags, type Interfaces } from '@oclif/core';
import { MeshError } from './errors.js';

/** Where plugin-plugins is: its Plugins class and its pinned npm are not in its exports. */
const PLUGIN_PLUGINS = import.meta.resolve('@oclif/plugin-plugins');

/** --verbose of the plugins commands that run npm: its output on stderr, stdout still the result. */
export const verboseFlag = Flags.boolean({ char: 'v', description: "Show npm's output (on stderr)." });

/** A plugin as plugin-plugins lists it in its package.json in the data dir. */
export type PluginEntry = Interfaces.LinkedPlugin | Interfaces.UserPlugin;

/**
 * plugin-plugins' bookkeeping of installed plugins (its package.json in the data dir, and npm run
 * there); its class is not exported, so this is the part the plugins commands use.
 */
export interface PluginsManager {
  readonly config: Interfaces.Config;
  install(name: string, opts: { force?: boolean; tag?: string }): Promise<Interfaces.Config>;
  list(): Promise<PluginEntry[]>;
  hasPlugin(name: string): Promise<PluginEntry | false>;
  /** Takes a plugin off the list (and out of npm's dependencies) without running npm. */
  remove(name: string): Promise<void>;
  link(path: string, opts: { install: boolean }): Promise<Interfaces.Config>;
  friendlyName(name: string): string;
}

/**
 * plugin-plugins' manager of the plugins folder, with npm run by `PluginsNpm`: quiet unless
 * `verbose`, its failures in npm's words. Returns the npm runner too, for what the manager itself
 * would run loudly or whose failure it would only warn about.
 */
export async function pluginsManager(
  config: Interfaces.Config,
  verbose: boolean,
): Promise<{ plugins: PluginsManager; npm: PluginsNpm }> {
  const { default: PluginsClass } = await import(new URL('./plugins.js', PLUGIN_PLUGINS).href);
  const plugins: PluginsManager = new PluginsClass({ config, logLevel: 'silent' });
  const npm = new PluginsNpm(config.npmRegistry, verbose);
  Object.assign(plugins, { npm });
  return { plugins, npm };
}

/**
 * npm as plugin-plugins runs it (its pinned copy, the same commands), but quiet: its output is
 * kept, and only when it fails do its error lines become the message (plugin-plugins prints all of
 * npm's output, or at its quietest says only that npm exited with code 1). `verbose` shows the
 * command and npm's output on stderr as it comes, so stdout keeps only the result (or its JSON).
 */
export class PluginsNpm {
  constructor(
    private readonly registry: string | undefined,
    private readonly verbose = false,
  ) {}

  install(args: string[], opts: { cwd: string; prod?: boolean }) {
    return this.exec(['install', ...args, ...(opts.prod ? ['--omit', 'dev'] : []), '--no-audit'], opts);
  }
  uninstall(args: string[], opts: { cwd: string }) {
    return this.exec(['uninstall', ...args], opts);
  }
  update(args: string[], opts: { cwd: string }) {
    return this.exec(['update', ...args], opts);
  }
  view(args: string[], opts: { cwd: string }) {
    // Asking the registry whether a name exists: its 404 is an answer, not output to show.
    return this.exec(['view', ...args], opts, false);
  }

  async exec(
    args: string[],
    { cwd }: { cwd: string },
    show = this.verbose,
  ): Promise<{ stdout: string[]; stderr: string[] }> {
    const [command = 'npm', ...leading] = await npmCommand();
    const full = [...leading, ...args, `--loglevel=${show ? 'verbose' : 'error'}`, '--no-fund'];
    if (this.registry) full.push(`--registry=${this.registry}`);
    if (show) process.stderr.write(`${cwd}: npm ${args.join(' ')}\n`);
    return new Promise((resolvePromise, reject) => {
      const child = spawn(command, full, {
        cwd,
        env: { ...process.env, HUSKY: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        if (show) process.stderr.write(d);
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        if (show) process.stderr.write(d);
      });
      child.on('error', reject);
      child.on('close', (code) => {
        if (code === 0) resolvePromise({ stdout: lines(stdout), stderr: lines(stderr) });
        else reject(npmFailure(args[0] ?? 'npm', stderr, code));
      });
    });
  }
}

/** The npm CLI plugin-plugins depends on (as it finds it), else the one on PATH. */
async function npmCommand(): Promise<string[]> {
  try {
    const pjson = createRequire(PLUGIN_PLUGINS).resolve('npm/package.json');
    const { bin } = JSON.parse(await readFile(pjson, 'utf8')) as { bin: { npm: string } };
    return [process.execPath, join(dirname(pjson), bin.npm)];
  } catch {
    return ['npm'];
  }
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '');
}

/** npm's own words for a failure, without its log-file and code lines. */
export function npmFailure(command: string, stderr: string, code: number | null): MeshError {
  const said = lines(stderr)
    .map((line) => line.replace(/^npm (error|ERR!)\s*/, '').trim())
    .filter(
      (line) =>
        !/^(code|errno|syscall|path) |^A complete log of this run/.test(line) &&
        // --verbose's own lines (timings, the command line, the environment)
        !/^npm (verbose|timing|info|http|sill) /.test(line),
    )
    // npm repeats a system error's code before each of its lines: `enoent ENOENT: no such file`
    .map((line) => line.replace(/^[a-z]+(\s+(?=[A-Z])|$)/, '').trim())
    .filter(Boolean)
    .slice(0, 4);
  return new MeshError(
    'npm_failed',
    `npm ${command} failed${said.length > 0 ? `: ${said.join('; ')}` : ` (exit code ${code})`}`,
    'run it again with --verbose to see what npm did',
  );
}

/** The version of a plugin npm installed in the data dir, as its package.json there says. */
export async function installedVersion(dataDir: string, name: string): Promise<string | undefined> {
  try {
    const pjson = JSON.parse(await readFile(join(dataDir, 'node_modules', name, 'package.json'), 'utf8'));
    return typeof pjson.version === 'string' ? pjson.version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A plugin installed from a path, or linked from a folder, that is gone cannot be put back from
 * there: says so before anything is changed. `verb`: what the command was about to do.
 */
export async function mustStillExist(plugin: PluginEntry, verb: 'update' | 'reinstall'): Promise<void> {
  const path =
    plugin.type === 'link' ? plugin.root : plugin.url?.startsWith('file:') ? plugin.url.slice(5) : undefined;
  if (path === undefined || (await stat(path).catch(() => undefined))) return;
  const how = plugin.type === 'link' ? 'linked from' : 'installed from';
  const again = plugin.type === 'link' ? 'plugins link <folder>' : 'plugins install <path>';
  throw new MeshError(
    'plugin_source_missing',
    `cannot ${verb} ${plugin.name}: it was ${how} ${path}, which no longer exists`,
    `${plugin.type === 'link' ? 'link' : 'install'} it again from where it is now (mesh-agent ${again}), or remove it (mesh-agent plugins uninstall ${plugin.name})`,
  );
}
