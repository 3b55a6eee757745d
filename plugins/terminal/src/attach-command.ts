import { DEFAULT_ROOM, type PluginHost } from '@mesh-agent/host';

/**
 * The command that attaches to `sharer`'s terminal, for a person to copy. It always names the
 * server (and a room other than the default): the share is reachable only through them, and a
 * viewer whose own config names no server, or another one, would otherwise get "no server".
 */
export function attachCommand(sharer: string, host: Pick<PluginHost, 'config'>): string {
  const words = ['mesh-agent', 'attach-terminal', sharer];
  const { url, room } = host.config.signaling;
  // Several servers (failover) go as --server takes them: one comma-separated list.
  const servers = Array.isArray(url) ? url.join(',') : url;
  if (servers) words.push('--server', servers);
  if (servers && room !== DEFAULT_ROOM) words.push('--room', room);
  return words.map(shellWord).join(' ');
}

/** Quotes a word for a POSIX shell when it holds anything but plain characters. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9._:/@%+=,-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}
