#!/usr/bin/env node
// `npm run cluster -- --nodes 3 [--base-port 8080]`: N local Guildhall nodes on
// consecutive ports against the local NATS (GUILDHALL_NATS_URL) and PostgreSQL
// (DATABASE_URL, default database guildhall_cluster, created if missing), one
// token secret for all. Prints their URLs, forwards their output with a node
// prefix, stops them all on Ctrl-C or SIGTERM (a second one kills them).
// Exit status: 0 after a clean stop, 1 when a node failed to start, 2 bad usage.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { clusterEnvSchema } from './cli.js';
import { LOCAL_TOKEN_SECRET, LocalCluster } from './local-cluster.js';

const USAGE = `usage: npm run cluster -- [--nodes 3] [--base-port 8080]

  --nodes <n>        nodes to start (1-16, default 3)
  --base-port <p>    port of the first node; the others take the next ones (default 8080)

environment: GUILDHALL_NATS_URL (default nats://127.0.0.1:4222), DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/guildhall_cluster, created if missing), GUILDHALL_TOKEN_SECRET
(default: a fixed dev secret), and any other GUILDHALL_* / OTEL_* setting, passed to every node.`;

const flags = z.object({
  nodes: z.string().regex(/^\d+$/, '--nodes must be a whole number').transform(Number).pipe(z.number().int().min(1, '--nodes must be at least 1').max(16, '--nodes must be at most 16')),
  'base-port': z.string().regex(/^\d+$/, '--base-port must be a whole number').transform(Number).pipe(z.number().int().min(1, '--base-port must be at least 1').max(65_000, '--base-port must be at most 65000')),
});

function usage(message: string): never {
  process.stderr.write(`cluster: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({ args: process.argv.slice(2), strict: true, options: { nodes: { type: 'string', default: '3' }, 'base-port': { type: 'string', default: '8080' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    usage((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const parsed = flags.safeParse({ nodes: values.nodes, 'base-port': values['base-port'] });
  if (!parsed.success) usage(parsed.error.issues.map((i) => i.message).join('\n'));
  const env = clusterEnvSchema.safeParse({ GUILDHALL_NATS_URL: process.env.GUILDHALL_NATS_URL || undefined, DATABASE_URL: process.env.DATABASE_URL || undefined });
  if (!env.success) usage(env.error.issues.map((i) => i.message).join('\n'));
  const { nodes, 'base-port': basePort } = parsed.data;
  if (basePort + nodes - 1 > 65_535) usage(`ports ${basePort}..${basePort + nodes - 1} do not fit`);

  const width = String(nodes).length;
  const prefix = (i: number) => `[node${String(i + 1).padStart(width)} :${basePort + i}] `;
  process.stdout.write(`cluster: starting ${nodes} node(s) on ports ${basePort}..${basePort + nodes - 1} (NATS ${env.data.GUILDHALL_NATS_URL}, database ${new URL(env.data.DATABASE_URL).pathname.slice(1)})\n`);
  if (!process.env.GUILDHALL_TOKEN_SECRET) process.stdout.write(`cluster: GUILDHALL_TOKEN_SECRET not set: every node uses the dev secret "${LOCAL_TOKEN_SECRET}"\n`);

  let cluster: LocalCluster | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write(`cluster: ${signal} again: killing the nodes\n`);
      process.exit(1);
    }
    process.stdout.write(`cluster: ${signal}: stopping every node (SIGTERM, they drain)\n`);
    stopping = (cluster?.stop() ?? Promise.resolve()).then(() => {
      process.stdout.write('cluster: all nodes stopped\n');
      process.exit(0);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  try {
    cluster = await LocalCluster.start({
      nodes,
      basePort,
      natsUrl: env.data.GUILDHALL_NATS_URL,
      databaseUrl: env.data.DATABASE_URL,
      baseEnv: process.env,
      output: (i, line) => process.stdout.write(`${prefix(i)}${line}\n`),
    });
  } catch (err) {
    process.stderr.write(`cluster: ${(err as Error).message}\n`);
    process.exit(1);
  }
  process.stdout.write(`\ncluster: ${nodes} node(s) ready (Ctrl-C stops them all):\n${cluster.urls.map((u, i) => `  ${prefix(i)}${u}`).join('\n')}\n  client-sim: npm run sim -- chat --url ${cluster.urls.join(',')}\n\n`);
}

void main();
