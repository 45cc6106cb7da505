// OutlierDetector: Envoy's consecutive-error outlier detection for one upstream cluster
// (envoy.config.cluster.v3.OutlierDetection, arch_overview/upstream/outlier), configured from a
// DestinationRule outlierDetection. Errors eject inline; un-ejection and the decay of the
// ejection-time multiplier happen at the interval sweeps, driven by the Clock.
import type { Clock, Timer } from '../../shared/clock.js';
import type { OutlierDetection } from '../../shared/config/networking-resources.js';

export interface OutlierSettings {
  /** 0 disables. Istio and Envoy default: 5. */
  readonly consecutive5xxErrors: number;
  /** 0 disables. Istio's default: disabled (Envoy's enforcing_consecutive_gateway_failure is 0). */
  readonly consecutiveGatewayErrors: number;
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  /** Envoy max_ejection_time: 300 s, or the base ejection time when that is larger. */
  readonly maxEjectionTimeMs: number;
  readonly maxEjectionPercent: number;
  /** Below this % of non-ejected hosts the load balancer panics and uses all hosts; 0 = never. */
  readonly minHealthPercent: number;
  /**
   * Envoy always_eject_one_host (default false, not exposed by Istio). Since Envoy PR #27909
   * max_ejection_percent is a strict cap on (ejected + 1) / hosts: with the default 10 % no host of
   * a cluster under 10 hosts is ejected unless this is set.
   */
  readonly alwaysEjectOneHost: boolean;
}

const defaultMaxEjectionTimeMs = 300_000;

/** The settings of a DestinationRule outlierDetection with istio/api's defaults filled in. */
export function resolveOutlierSettings(od: OutlierDetection, options: { alwaysEjectOneHost?: boolean } = {}): OutlierSettings {
  const positive = (v: number | undefined, d: number) => (v !== undefined && Number.isFinite(v) && v > 0 ? v : d);
  const whole = (v: number | undefined, d: number) => (v !== undefined && Number.isFinite(v) && v >= 0 ? Math.floor(v) : d);
  const percent = (v: number | undefined, d: number) => Math.min(100, whole(v, d));
  const baseEjectionTimeMs = positive(od.baseEjectionTimeMs, 30_000);
  return {
    consecutive5xxErrors: whole(od.consecutive5xxErrors, 5),
    consecutiveGatewayErrors: whole(od.consecutiveGatewayErrors, 0),
    intervalMs: positive(od.intervalMs, 10_000),
    baseEjectionTimeMs,
    maxEjectionTimeMs: Math.max(baseEjectionTimeMs, defaultMaxEjectionTimeMs),
    // istio/api: max_ejection_percent defaults to 10 % (Istio passes it on only when > 0).
    maxEjectionPercent: od.maxEjectionPercent !== undefined && od.maxEjectionPercent > 0 ? percent(od.maxEjectionPercent, 10) : 10,
    minHealthPercent: percent(od.minHealthPercent, 0),
    alwaysEjectOneHost: options.alwaysEjectOneHost ?? false,
  };
}

/** What one request to a host ended with. */
export interface AttemptResult {
  readonly status?: number;
  /** Connect failure or timeout: Envoy maps a local-origin failure to a 503 (5xx and gateway error). */
  readonly connectFailure?: boolean;
  /** A locally generated gateway error (reset → 502, timeout → 504): counts as 5xx and gateway error. */
  readonly gatewayError?: boolean;
}

/** What the endpoint picker reads. */
export interface OutlierView {
  isEjected(endpointKey: string): boolean;
  readonly minHealthPercent: number;
}

export interface OutlierListener {
  onEject?(endpointKey: string, ejections: number, durationMs: number): void;
  onUneject?(endpointKey: string): void;
}

interface HostState {
  consecutive5xx: number;
  consecutiveGateway: number;
  ejected: boolean;
  ejections: number;
  /** Envoy's ejection-time multiplier: up at each ejection, down after each healthy interval. */
  backoff: number;
  lastEjectionMs: number;
  lastUnejectionMs: number | undefined;
}

export class OutlierDetector implements OutlierView {
  private settingsNow: OutlierSettings;
  private readonly clock: Clock;
  private readonly listener: OutlierListener;
  private readonly hosts = new Map<string, HostState>();
  private ejectedNow = 0;
  private timer: Timer | undefined;

  constructor(settings: OutlierSettings, clock: Clock, listener: OutlierListener = {}) {
    this.settingsNow = settings;
    this.clock = clock;
    this.listener = listener;
    this.arm();
  }

  get settings(): OutlierSettings {
    return this.settingsNow;
  }

  get minHealthPercent(): number {
    return this.settingsNow.minHealthPercent;
  }

  /** New settings keep every host's counters and ejections; the sweep re-arms at the new interval. */
  updateSettings(settings: OutlierSettings): void {
    const rearm = settings.intervalMs !== this.settingsNow.intervalMs;
    this.settingsNow = settings;
    if (rearm) this.arm();
  }

  /** The cluster's hosts: new ones are tracked, gone ones forgotten (with their ejection). */
  setHosts(keys: Iterable<string>): void {
    const live = new Set(keys);
    for (const [key, state] of this.hosts) {
      if (live.has(key)) continue;
      if (state.ejected) this.ejectedNow -= 1;
      this.hosts.delete(key);
    }
    for (const key of live) if (!this.hosts.has(key)) this.hosts.set(key, freshHost());
  }

  /** Counts one result for `endpointKey` (a host not yet known is added); may eject it at once. */
  record(endpointKey: string, result: AttemptResult): void {
    let host = this.hosts.get(endpointKey);
    if (!host) {
      host = freshHost();
      this.hosts.set(endpointKey, host);
    }
    const status = result.connectFailure ? 503 : result.gatewayError ? 502 : result.status;
    if (status === undefined) return;
    if (status < 500 || status > 599) {
      host.consecutive5xx = 0;
      host.consecutiveGateway = 0;
      return;
    }
    const { consecutive5xxErrors, consecutiveGatewayErrors } = this.settingsNow;
    // Envoy DetectorHostMonitorImpl::putHttpResponseCode: a non-gateway 5xx breaks the gateway run.
    if (status === 502 || status === 503 || status === 504) {
      host.consecutiveGateway += 1;
      if (consecutiveGatewayErrors > 0 && host.consecutiveGateway >= consecutiveGatewayErrors) {
        // The counter restarts at each trigger, so a host held back by max_ejection_percent is
        // tried again after another full run of errors.
        host.consecutiveGateway = 0;
        this.tryEject(endpointKey, host);
      }
    } else {
      host.consecutiveGateway = 0;
    }
    host.consecutive5xx += 1;
    if (consecutive5xxErrors > 0 && host.consecutive5xx >= consecutive5xxErrors) {
      host.consecutive5xx = 0;
      this.tryEject(endpointKey, host);
    }
  }

  isEjected(endpointKey: string): boolean {
    return this.hosts.get(endpointKey)?.ejected ?? false;
  }

  ejectedCount(): number {
    return this.ejectedNow;
  }

  hostCount(): number {
    return this.hosts.size;
  }

  /** Stops the sweep timer. */
  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private tryEject(key: string, host: HostState): void {
    if (host.ejected) return;
    const { maxEjectionPercent, alwaysEjectOneHost, baseEjectionTimeMs, maxEjectionTimeMs } = this.settingsNow;
    // Envoy DetectorImpl::ejectHost: the percentage after this ejection must stay within the cap.
    const afterPercent = (100 * (this.ejectedNow + 1)) / Math.max(1, this.hosts.size);
    if (!(afterPercent <= maxEjectionPercent || (alwaysEjectOneHost && this.ejectedNow === 0))) return;
    host.ejected = true;
    host.ejections += 1;
    if (baseEjectionTimeMs * host.backoff < maxEjectionTimeMs) host.backoff += 1;
    host.lastEjectionMs = this.clock.nowMs();
    this.ejectedNow += 1;
    this.listener.onEject?.(key, host.ejections, this.ejectionTimeMs(host));
  }

  private ejectionTimeMs(host: HostState): number {
    const { baseEjectionTimeMs, maxEjectionTimeMs } = this.settingsNow;
    return Math.min(baseEjectionTimeMs * host.backoff, maxEjectionTimeMs);
  }

  private arm(): void {
    this.timer?.cancel();
    this.timer = this.clock.setTimer(this.settingsNow.intervalMs, () => {
      this.sweep();
      this.arm();
    });
  }

  // Envoy DetectorImpl::checkHostForUneject, once per interval for every host.
  private sweep(): void {
    const now = this.clock.nowMs();
    const { intervalMs } = this.settingsNow;
    for (const [key, host] of this.hosts) {
      if (!host.ejected) {
        if (host.lastUnejectionMs !== undefined && now - host.lastUnejectionMs >= intervalMs && host.backoff > 0) host.backoff -= 1;
        continue;
      }
      if (now - host.lastEjectionMs >= this.ejectionTimeMs(host)) {
        host.ejected = false;
        host.lastUnejectionMs = now;
        host.consecutive5xx = 0;
        host.consecutiveGateway = 0;
        this.ejectedNow -= 1;
        this.listener.onUneject?.(key);
      }
    }
  }
}

function freshHost(): HostState {
  return { consecutive5xx: 0, consecutiveGateway: 0, ejected: false, ejections: 0, backoff: 0, lastEjectionMs: 0, lastUnejectionMs: undefined };
}
