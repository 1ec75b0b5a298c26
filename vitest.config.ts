import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: {
    // Run workspace packages from their TypeScript sources, not their built dist.
    conditions: ['@waltz/source'],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'docs/test/**/*.test.ts'],
    testTimeout: 30_000,
    typecheck: {
      enabled: true,
      include: ['packages/*/test/**/*.test-d.ts'],
      tsconfig: './tsconfig.check.json',
    },
  },
})
