// ActiveRequests: in-flight requests per endpoint, what LEAST_REQUEST compares (Envoy's
// host rq_active). The executor starts one per attempt and releases it when the attempt ends.

export class ActiveRequests {
  private readonly counts = new Map<string, number>();

  /** Counts one request to `endpointKey`; `release()` ends it, and a second call does nothing. */
  start(endpointKey: string): { release(): void } {
    this.counts.set(endpointKey, (this.counts.get(endpointKey) ?? 0) + 1);
    let live = true;
    return {
      release: () => {
        if (!live) return;
        live = false;
        const n = (this.counts.get(endpointKey) ?? 1) - 1;
        if (n <= 0) this.counts.delete(endpointKey);
        else this.counts.set(endpointKey, n);
      },
    };
  }

  /** Requests to `endpointKey` in flight now. Bound, so it can be passed as a function. */
  readonly count = (endpointKey: string): number => this.counts.get(endpointKey) ?? 0;
}
