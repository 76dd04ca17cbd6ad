import { Type } from '@sinclair/typebox';
import type { App } from '../types.ts';

export const healthRoutes = async (app: App) => {
  app.get(
    '/health',
    {
      config: { cacheControl: 'no-cache' },
      schema: {
        summary: 'Liveness: answers as soon as the process listens',
        tags: ['node'],
        response: {
          200: Type.Object({
            status: Type.Union([Type.Literal('ok'), Type.Literal('starting')]),
            node: Type.String(),
          }),
        },
      },
    },
    async () => ({
      status: app.node.isReady() ? ('ok' as const) : ('starting' as const),
      node: app.node.id,
    }),
  );
};
