import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real sockets and child processes: give slow shared machines room.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
