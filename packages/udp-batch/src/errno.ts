import { constants } from 'node:os';

const names = new Map(Object.entries(constants.errno).map(([name, value]) => [value, name]));

/** 'EAGAIN' for 11; null for 0. */
export function errnoName(errno: number): string | null {
  if (errno === 0) return null;
  return names.get(errno) ?? `errno ${errno}`;
}
