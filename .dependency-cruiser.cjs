// The layers of authlog, lowest first (docs/architecture.md, "Layers"). A module may import from
// its own layer and the ones below it, never from one above; and no module imports itself back
// through others (no cycles, type-only imports included). `npm test` runs this (`npm run deps`).
const LAYERS = [
  ['errors', '^src/errors\\.ts$'],
  ['clock', '^src/clock/'],
  ['store', '^src/store/'],
  ['events', '^src/events/'],
  ['readmodel', '^src/readmodel/'],
  ['projections', '^projections/'],
  ['node', '^src/node/'],
  ['authz', '^src/authz/'],
  ['authn', '^src/authn/'],
  ['directories', '^src/directories/'],
  ['accounting', '^src/accounting/'],
  ['replication', '^src/replication/'],
  ['http', '^src/http/'],
  ['boot', '^src/boot/'],
  ['cli', '^src/cli/'],
  ['index', '^src/index\\.ts$'],
];

const upward = LAYERS.slice(0, -1).map(([name, path], i) => ({
  name: `${name}-imports-upward`,
  comment: `${name} is below ${LAYERS.slice(i + 1)
    .map(([n]) => n)
    .join(', ')}: it must not import them`,
  severity: 'error',
  from: { path },
  to: { path: LAYERS.slice(i + 1).map(([, p]) => p) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'a module reaches itself through its imports',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'outside-a-layer',
      comment:
        'every module under src/ and projections/ belongs to a layer of .dependency-cruiser.cjs',
      severity: 'error',
      from: { path: '^(src|projections)/', pathNot: LAYERS.map(([, p]) => p) },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|test|scripts)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Package subpaths resolve through package.json `exports`, as Node resolves them
    // (`@simplewebauthn/server/helpers`).
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js', '.mjs', '.json'],
    },
  },
};
