// npm run rebuild -- [--data-dir DIR] [--json]: the same as `authlog rebuild` (progress bar and
// ETA on a terminal). Rebuilds the live read model from the log into a new file beside it and
// swaps it in; it takes the data folder's lock, so it refuses while the node runs. Without
// downtime on a running site: docs/accounting.md, "Rebuilding".
process.argv.splice(2, 0, 'rebuild');
await import('../src/cli/main.ts');
