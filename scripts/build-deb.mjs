#!/usr/bin/env node
// Builds mesh-agent_<version>_<arch>.deb from the built workspace, offline but for npm's registry or
// cache: the packed workspace installed under /usr/lib/mesh-agent (lib/install-workspace.mjs, the
// route pack-install.mjs takes), /usr/bin/mesh-agent, and a systemd user unit. It depends on the
// distribution's nodejs. Native addons are compiled here (node-pty, udp-batch) or prebuilt for this
// platform, so the package is for this machine's architecture and also depends on the shared
// libraries they link. Run it after `pnpm build` (`pnpm deb` does both).
//
//   node scripts/build-deb.mjs [out-dir]   # default: dist/; prints the .deb's path
//   DEBFULLNAME, DEBEMAIL                  # the Maintainer field, as Debian's own tools read them
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  changelogEntry,
  controlFile,
  debianVersion,
  installedSizeKiB,
  nodejsDependency,
} from './lib/deb-control.mjs';
import {
  nativeAddons,
  pruneForeignPrebuilds,
  pruneGypByproducts,
  sharedLibraryDepends,
  stripAddons,
  walk,
} from './lib/deb-native.mjs';
import { installWorkspace, ROOT, rootPackage, run } from './lib/install-workspace.mjs';

const LIB_DIR = 'usr/lib/mesh-agent';
const PACKAGING = join(ROOT, 'packaging/deb');

/** The installed tree must not point back at the temporary staging directory it was built in. */
function assertNoStagingPath(stage) {
  const needle = Buffer.from(stage);
  const leaks = [];
  for (const { path, entry } of walk(stage)) {
    if (
      entry.isSymbolicLink()
        ? readlinkSync(path).includes(stage)
        : entry.isFile() && readFileSync(path).includes(needle)
    )
      leaks.push(path.slice(stage.length));
  }
  if (leaks.length > 0)
    throw new Error(`files refer to the staging directory ${stage}:\n${leaks.join('\n')}`);
}

/** This machine's Debian architecture, which the compiled addons are built for. */
function dpkgArchitecture() {
  try {
    return run('dpkg', ['--print-architecture'], 'pipe').trim();
  } catch (error) {
    throw new Error(`building a .deb needs dpkg and dpkg-deb (Debian or Ubuntu): ${error.message}`);
  }
}

function maintainer(env) {
  const name = env.DEBFULLNAME || 'mesh-agent contributors';
  const email = env.DEBEMAIL || 'mesh-agent@invalid';
  return `${name} <${email}>`;
}

const outDir = resolve(process.argv[2] ?? join(ROOT, 'dist'));
const architecture = dpkgArchitecture();
const version = debianVersion(rootPackage.version);
const stage = mkdtempSync(join(tmpdir(), 'mesh-agent-deb-'));
try {
  // mkdtemp makes it 0700; it becomes the package's `./`.
  chmodSync(stage, 0o755);
  installWorkspace(join(stage, LIB_DIR));
  pruneGypByproducts(join(stage, LIB_DIR));
  pruneForeignPrebuilds(join(stage, LIB_DIR));
  const addons = nativeAddons(join(stage, LIB_DIR));
  stripAddons(addons);

  mkdirSync(join(stage, 'usr/bin'), { recursive: true });
  symlinkSync(`../lib/mesh-agent/bin/${rootPackage.oclif.bin}`, join(stage, 'usr/bin/mesh-agent'));
  // npm's link must resolve inside the package, or /usr/bin/mesh-agent dangles once installed.
  statSync(join(stage, 'usr/bin/mesh-agent'));
  mkdirSync(join(stage, 'usr/lib/systemd/user'), { recursive: true });
  copyFileSync(join(PACKAGING, 'mesh-agent.service'), join(stage, 'usr/lib/systemd/user/mesh-agent.service'));
  mkdirSync(join(stage, 'usr/share/doc/mesh-agent'), { recursive: true });
  copyFileSync(join(PACKAGING, 'copyright'), join(stage, 'usr/share/doc/mesh-agent/copyright'));
  const changelog = changelogEntry({ version, maintainer: maintainer(process.env), date: new Date() });
  writeFileSync(join(stage, 'usr/share/doc/mesh-agent/changelog.gz'), gzipSync(changelog, { level: 9 }));
  assertNoStagingPath(stage);

  const control = controlFile({
    package: 'mesh-agent',
    version,
    architecture,
    maintainer: maintainer(process.env),
    depends: [nodejsDependency(rootPackage.engines.node), ...sharedLibraryDepends(addons)].join(', '),
    synopsis: 'peer-to-peer desktop agent',
    description: [
      rootPackage.description,
      'Run `systemctl --user enable --now mesh-agent` to start `mesh-agent run` at every login; it reads ~/.config/mesh-agent/config.json.',
    ],
    installedSizeKiB: installedSizeKiB(stage),
  });
  mkdirSync(join(stage, 'DEBIAN'), { mode: 0o755 });
  writeFileSync(join(stage, 'DEBIAN/control'), control);

  mkdirSync(outDir, { recursive: true });
  const deb = join(outDir, `mesh-agent_${version}_${architecture}.deb`);
  run('dpkg-deb', ['--build', '--root-owner-group', stage, deb], 'ignore');
  console.log(`deb: ${deb}`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
