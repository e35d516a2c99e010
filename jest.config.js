// Tests are TypeScript, run by ts-jest against the sources in lib/ (the CLI and packaging tests
// run the built dist/ the way users do). GPU tests live in test/gpu and run with `npm run test:gpu`.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testPathIgnorePatterns: process.env.VIT22B_TEST_GPU ? [] : ['<rootDir>/test/gpu/'],
  testTimeout: 120000,
};
