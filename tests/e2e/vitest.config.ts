import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // End-to-end files each start schedulers and workers; run them one at a time on small CI machines.
    fileParallelism: false,
  },
});
