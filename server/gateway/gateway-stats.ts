// What the gateway counts, read by /metrics at scrape time. A file of its own so
// the metrics do not import the gateway server (and, through it, the server context).
export interface GatewayStats {
  connections: number;
  accepted: number;
  /** Server-initiated closes by close code. */
  closes: Record<number, number>;
  slowConsumers: number;
}
