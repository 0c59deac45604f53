import { defineConfig } from 'vitest/config';

// tsc emits compiled copies of the tests into dist/; run only the sources.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
  },
});
