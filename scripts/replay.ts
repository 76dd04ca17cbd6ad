// npm run replay -- --until <ISO time|origin:seq> [--who-holds role:X|privilege:Y]
// [--principal P] [--out FILE] [--data-dir DIR] [--json]: the same as `authlog replay`. Builds
// the read model as of that point into a separate file (progress bar on a terminal) and answers
// from it. What "as of" means across origins: docs/accounting.md, "Point-in-time replay".
process.argv.splice(2, 0, 'replay');
await import('../src/cli/main.ts');
