// The routes clients and orchestrators probe without credentials: /ping
// (InfluxDB 1.x clients at start-up), /health (the 2.x client wants
// "status":"pass"), /ready (the store is open and writable).
import type { FastifyInstance } from 'fastify';
import { INFLUXDB_COMPATIBLE_VERSION } from '../version.js';

export interface HealthCheck {
  readonly name: string;
  readonly status: 'pass' | 'fail';
  readonly message?: string;
}

export interface StatusDeps {
  /** Reasons the relay is unhealthy; empty when all is well. */
  readonly healthChecks: () => HealthCheck[];
  /** Why the relay can't take writes right now, or undefined when it can. */
  readonly notReadyReason: () => string | undefined;
}

export function registerStatusRoutes(app: FastifyInstance, deps: StatusDeps): void {
  app.route<{ Querystring: { verbose?: string } }>({
    method: ['GET', 'HEAD'],
    url: '/ping',
    handler: async (request, reply) => {
      if (request.method === 'GET' && request.query.verbose === 'true') return reply.code(200).send({ version: INFLUXDB_COMPATIBLE_VERSION });
      return reply.code(204).send();
    },
  });

  app.get('/health', async (_request, reply) => {
    const checks = deps.healthChecks();
    const failed = checks.filter((c) => c.status === 'fail');
    const status = failed.length === 0 ? 'pass' : 'fail';
    return reply.code(failed.length === 0 ? 200 : 503).send({
      name: 'certrelay',
      message: failed.length === 0 ? 'ready for writes' : failed.map((c) => `${c.name}: ${c.message ?? 'failing'}`).join('; '),
      status,
      checks,
      version: INFLUXDB_COMPATIBLE_VERSION,
    });
  });

  app.get('/ready', async (_request, reply) => {
    const reason = deps.notReadyReason();
    if (reason === undefined) return reply.code(200).send({ status: 'ready' });
    return reply.code(503).header('Retry-After', '5').send({ status: 'not ready', message: reason });
  });
}
