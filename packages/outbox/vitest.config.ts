import { defineConfig } from 'vitest/config';

// Only the sources: the compiled copies in dist/ must not run a second time.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
  },
});
