// The pure parts of building the .deb: the Debian version of a package.json version, the
// DEBIAN/control text, and the Installed-Size of a staged tree.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const SEMVER = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$/;

/**
 * The Debian version of a semver version. A pre-release becomes `~pre`, which Debian sorts before
 * the release (a plain `-` would start the Debian revision instead); build metadata becomes `+meta`.
 */
export function debianVersion(semver) {
  const match = SEMVER.exec(semver);
  if (!match) throw new Error(`package.json version "${semver}" is not a semver version (like 1.2.3)`);
  const [, major, minor, patch, pre, build] = match;
  return `${major}.${minor}.${patch}${pre ? `~${pre.replaceAll('-', '.')}` : ''}${build ? `+${build}` : ''}`;
}

/** A multi-line field value: continuation lines start with a space, and an empty line is ` .`. */
function continued(lines) {
  return lines.map((line) => (line === '' ? ' .' : ` ${line}`)).join('\n');
}

/** Words of `text` joined into lines of at most `width` characters. */
export function wrap(text, width = 78) {
  const lines = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

const REQUIRED = ['package', 'version', 'architecture', 'maintainer', 'depends', 'synopsis'];

/**
 * The DEBIAN/control file. `description` is a list of paragraphs, wrapped under the one-line synopsis.
 * @param {{package: string, version: string, architecture: string, maintainer: string, depends: string,
 *   synopsis: string, description: string[], installedSizeKiB: number, section?: string, homepage?: string}} fields
 */
export function controlFile(fields) {
  const missing = REQUIRED.filter((key) => !fields[key]);
  if (missing.length > 0) throw new Error(`control file: no ${missing.join(', ')}`);
  const newline = Object.entries(fields).find(
    ([, value]) => typeof value === 'string' && value.includes('\n'),
  );
  if (newline) throw new Error(`control file: ${newline[0]} spans lines`);
  const body = (fields.description ?? []).flatMap((paragraph, i) => [
    ...(i > 0 ? [''] : []),
    ...wrap(paragraph),
  ]);
  return `${[
    `Package: ${fields.package}`,
    `Version: ${fields.version}`,
    `Architecture: ${fields.architecture}`,
    `Maintainer: ${fields.maintainer}`,
    `Installed-Size: ${fields.installedSizeKiB}`,
    `Depends: ${fields.depends}`,
    `Section: ${fields.section ?? 'net'}`,
    'Priority: optional',
    ...(fields.homepage ? [`Homepage: ${fields.homepage}`] : []),
    `Description: ${fields.synopsis}`,
    ...(body.length > 0 ? [continued(body)] : []),
  ].join('\n')}\n`;
}

/** Installed-Size as dpkg-gencontrol counts it: KiB per file, rounded up, and one per directory or link. */
export function installedSizeKiB(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += 1 + installedSizeKiB(path);
    else if (entry.isFile()) total += Math.ceil(lstatSync(path).size / 1024);
    else total += 1;
  }
  return total;
}

/** The Depends entry for Debian's nodejs from package.json's `engines.node`, which must be `>=x[.y[.z]]`. */
export function nodejsDependency(engines) {
  const match = /^>=\s*(\d+(?:\.\d+){0,2})$/.exec(engines?.trim() ?? '');
  if (!match) throw new Error(`engines.node "${engines}" is not ">=<version>"; the .deb cannot depend on it`);
  return `nodejs (>= ${match[1]})`;
}

/**
 * The package's changelog (usr/share/doc/<package>/changelog.gz of a native package): one entry
 * for this build, as Debian policy asks every package to carry.
 */
export function changelogEntry({ version, maintainer, date }) {
  // RFC 5322 date with a numeric zone, as dpkg-parsechangelog reads it.
  const stamp = date.toUTCString().replace(/GMT$/, '+0000');
  return [
    `mesh-agent (${version}) unstable; urgency=medium`,
    '',
    '  * Built from the mesh-agent repository with scripts/build-deb.mjs.',
    '',
    ` -- ${maintainer}  ${stamp}`,
    '',
  ].join('\n');
}
