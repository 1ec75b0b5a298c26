import { configDefaults, defineConfig } from 'vitest/config'

/**
 * The 3-node NATS cluster tests stop and restart real servers and wait for RAFT elections, which
 * take seconds longer when the crash and power-loss suites saturate both cores: they run alone, after
 * every other file, one file at a time.
 */
const CLUSTER_TESTS = [
  'packages/replicate-nats/test/cluster.test.ts',
  'packages/eventstore/test/nats-cluster.test.ts',
]

export default defineConfig({
  resolve: {
    // Run workspace packages from their TypeScript sources, not their built dist.
    conditions: ['@waltz/source'],
  },
  test: {
    testTimeout: 30_000,
    // The power-loss suite leaves a thousand crash-state directories for the cleanup hook to remove:
    // over a minute on a machine other work keeps busy.
    hookTimeout: 300_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'waltz',
          include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'docs/test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...CLUSTER_TESTS],
          typecheck: {
            enabled: true,
            include: ['packages/*/test/**/*.test-d.ts'],
            tsconfig: './tsconfig.check.json',
          },
        },
      },
      {
        extends: true,
        test: {
          name: 'nats-cluster',
          include: CLUSTER_TESTS,
          sequence: { groupOrder: 1 },
          // One cluster at a time too: two of them would slow each other's elections down.
          fileParallelism: false,
        },
      },
    ],
  },
})
