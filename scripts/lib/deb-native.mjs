// The compiled parts of the staged tree: native addons (`.node`, ELF shared objects) made ready to
// ship the way Debian ships shared objects, and the libraries they need turned into Depends.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { run } from './install-workspace.mjs';

/** Every path under `dir`, depth first, with its directory entry. */
export function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    yield { path, entry };
    if (entry.isDirectory()) yield* walk(path);
  }
}

/** node-gyp's byproducts in an addon's build/: they hold the staging path, and nothing loads them. */
const GYP_BYPRODUCTS = [
  /^Makefile$/,
  /^config\.gypi$/,
  /\.mk$/,
  /\.Makefile$/,
  /^(Release|Debug)\/(obj\.target|obj|\.deps)$/,
];

/** Removes node-gyp's byproducts from every compiled addon (a package with binding.gyp) under `dir`. */
export function pruneGypByproducts(dir) {
  const builds = [...walk(dir)]
    .filter(({ path, entry }) => entry.isFile() && basename(path) === 'binding.gyp')
    .map(({ path }) => join(dirname(path), 'build'))
    .filter((build) => existsSync(build));
  for (const build of builds) {
    const doomed = [...walk(build)]
      .map(({ path }) => relative(build, path))
      .filter((path) => GYP_BYPRODUCTS.some((pattern) => pattern.test(path)));
    for (const path of doomed) rmSync(join(build, path), { recursive: true, force: true });
  }
}

/** Removes prebuilt addons for other systems (`prebuilds/<platform>-<arch>/`, prebuildify's layout). */
export function pruneForeignPrebuilds(dir) {
  const own = `${process.platform}-${process.arch}`;
  const prebuilds = [...walk(dir)].filter(
    ({ path, entry }) => entry.isDirectory() && basename(path) === 'prebuilds',
  );
  for (const { path } of prebuilds)
    for (const target of readdirSync(path))
      if (target !== own) rmSync(join(path, target), { recursive: true });
}

function isElf(path) {
  const fd = openSync(path, 'r');
  try {
    const magic = Buffer.alloc(4);
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.equals(Buffer.from('\x7fELF', 'latin1'));
  } finally {
    closeSync(fd);
  }
}

/** The ELF addons under `dir`. */
export function nativeAddons(dir) {
  return [...walk(dir)]
    .filter(({ path, entry }) => entry.isFile() && path.endsWith('.node') && isElf(path))
    .map(({ path }) => path);
}

/** Shared objects as Debian ships them: not executable, debug symbols stripped. */
export function stripAddons(addons) {
  for (const addon of addons) chmodSync(addon, 0o644);
  if (addons.length > 0) run('strip', ['--strip-unneeded', ...addons]);
}

/** The Depends the addons' shared libraries call for (libc6, libstdc++6...), from dpkg-shlibdeps. */
export function sharedLibraryDepends(addons) {
  if (addons.length === 0) return [];
  if (spawnSync('dpkg-shlibdeps', ['--version'], { stdio: 'ignore' }).status !== 0)
    throw new Error('dpkg-shlibdeps is not installed: apt-get install dpkg-dev');
  // It reads debian/control from its working directory, which the staging tree must not hold.
  const work = mkdtempSync(join(tmpdir(), 'mesh-agent-shlibs-'));
  try {
    mkdirSync(join(work, 'debian'));
    writeFileSync(join(work, 'debian/control'), '');
    const result = spawnSync('dpkg-shlibdeps', ['-O', '--warnings=0', ...addons.map((a) => `-e${a}`)], {
      cwd: work,
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`dpkg-shlibdeps failed: ${result.stderr.trim()}`);
    const depends = /^shlibs:Depends=(.*)$/m.exec(result.stdout)?.[1];
    return depends ? depends.split(/,\s*/) : [];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
