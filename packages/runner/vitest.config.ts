import { defineConfig } from 'vitest/config';

// Only the TypeScript sources: tsc also emits compiled copies of the tests into dist/.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 15_000,
  },
});
