import { describe, expect, it } from 'vitest';
import { wantsOpenMetrics } from '../../../server/metrics/metrics-route.js';

describe('wantsOpenMetrics', () => {
  it.each([
    [undefined, false],
    ['*/*', false],
    ['text/plain;version=0.0.4', false],
    // What Prometheus sends with exemplar storage on.
    ['application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1', true],
    ['Application/OpenMetrics-Text', true],
    ['application/openmetrics-text;q=0, text/plain', false],
    ['application/openmetrics-textual', false],
  ])('%s -> %s', (accept, expected) => {
    expect(wantsOpenMetrics(accept)).toBe(expected);
  });
});
