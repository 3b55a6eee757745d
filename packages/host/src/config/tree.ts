/** Reading and editing a config tree (nested plain objects) at a key path. */

type Tree = Record<string, unknown>;

function isTree(value: unknown): value is Tree {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Sets `value` at `path` in `tree`, creating the objects on the way. */
export function setPath(tree: Tree, path: readonly string[], value: unknown): void {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    node[key] = isTree(next) ? next : {};
    node = node[key] as Tree;
  }
  node[path[path.length - 1] as string] = value;
}

/** The value at `path`, or undefined when any key on the way is missing. */
export function getPath(tree: Tree, path: readonly string[]): unknown {
  let node: unknown = tree;
  for (const key of path) {
    if (!isTree(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

/** Removes the value at `path` and the tables it leaves empty; false when there was none. */
export function unsetPath(tree: Tree, path: readonly string[]): boolean {
  const [key, ...rest] = path as [string, ...string[]];
  if (!Object.hasOwn(tree, key)) return false;
  if (rest.length === 0) {
    delete tree[key];
    return true;
  }
  const child = tree[key];
  if (!isTree(child) || !unsetPath(child, rest)) return false;
  if (Object.keys(child).length === 0) delete tree[key];
  return true;
}
