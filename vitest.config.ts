import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'packages',
          include: [
            'packages/*/test/**/*.test.ts',
            'plugins/*/test/**/*.test.ts',
            'packages/*/src/**/*.test.ts',
            'plugins/*/src/**/*.test.ts',
            'examples/*/test/**/*.test.ts',
          ],
        },
      },
      {
        // Installing from tarballs compiles node-pty and keeps both cores busy: it runs after the rest,
        // so that it slows no timing-sensitive test.
        extends: true,
        test: { name: 'install', include: ['test/**/*.test.ts'], sequence: { groupOrder: 1 } },
      },
    ],
  },
});
