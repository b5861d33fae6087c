// Names in JetStream KV: a bucket is `${cluster}-${what}` and must be
// [A-Za-z0-9_-]; a key may only hold [-/_=.A-Za-z0-9] and must not start or
// end with '.', so our ids (node ids hold ':', guild keys anything) are
// written as base64url, which is inside that set and reversible.
// https://docs.nats.io/nats-concepts/jetstream/key-value-store#notes

const BUCKET = /^[A-Za-z0-9_-]+$/;

/** The KV bucket of `what` in cluster `cluster`; throws RangeError for a cluster name KV cannot hold. */
export function bucketName(cluster: string, what: string): string {
  const name = `${cluster}-${what}`;
  if (!BUCKET.test(cluster) || !BUCKET.test(what)) throw new RangeError(`cluster name must be letters, digits, '-' or '_' (a KV bucket name), got ${JSON.stringify(cluster)}`);
  return name;
}

/** A KV key for any non-empty id. */
export function encodeKey(id: string): string {
  if (id === '') throw new RangeError('an id in KV must not be empty');
  return Buffer.from(id, 'utf8').toString('base64url');
}

export function decodeKey(key: string): string {
  return Buffer.from(key, 'base64url').toString('utf8');
}
