import type { Backplane, BackplaneHealth, BindingStore, RemoteConnection } from './backplane.js';

/** One node alone: nothing is shared, bindings are the node's own (its data directory). */
export class MemoryBackplane implements Backplane {
  constructor(readonly bindings: BindingStore) {}

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    await this.bindings.flush();
  }

  async join(): Promise<void> {}

  leave(): void {}

  remote(): readonly RemoteConnection[] {
    return [];
  }

  async send(): Promise<boolean> {
    return false;
  }

  health(): BackplaneHealth {
    return { store: 'memory' };
  }
}
