// OutlierDetectorSet: one OutlierDetector per upstream cluster whose DestinationRule sets
// outlierDetection (Istio configures none otherwise). Updates keep each detector's state;
// clusters that lose the setting or go away have their detector closed.
import type { Clock } from '../../shared/clock.js';
import type { OutlierDetection } from '../../shared/config/networking-resources.js';
import { OutlierDetector, resolveOutlierSettings, type OutlierListener, type OutlierSettings } from './outlier-detector.js';

export class OutlierDetectorSet {
  private readonly clock: Clock;
  private readonly listener: (clusterKey: string) => OutlierListener;
  private readonly detectors = new Map<string, OutlierDetector>();

  constructor(clock: Clock, listener: (clusterKey: string) => OutlierListener = () => ({})) {
    this.clock = clock;
    this.listener = listener;
  }

  /**
   * The detector of `clusterKey` for `od`, tracking `hostKeys`; undefined (and any old detector
   * closed) when `od` is unset.
   */
  forCluster(clusterKey: string, od: OutlierDetection | undefined, hostKeys: Iterable<string>): OutlierDetector | undefined {
    const existing = this.detectors.get(clusterKey);
    if (od === undefined) {
      existing?.close();
      this.detectors.delete(clusterKey);
      return undefined;
    }
    const settings = resolveOutlierSettings(od);
    let detector = existing;
    if (!detector) {
      detector = new OutlierDetector(settings, this.clock, this.listener(clusterKey));
      this.detectors.set(clusterKey, detector);
    } else if (!sameSettings(detector.settings, settings)) {
      detector.updateSettings(settings);
    }
    detector.setHosts(hostKeys);
    return detector;
  }

  get(clusterKey: string): OutlierDetector | undefined {
    return this.detectors.get(clusterKey);
  }

  /** Closes and drops the detectors of clusters not in `live`. */
  retain(live: ReadonlySet<string>): void {
    for (const [key, detector] of this.detectors) {
      if (live.has(key)) continue;
      detector.close();
      this.detectors.delete(key);
    }
  }

  close(): void {
    this.retain(new Set());
  }

  get size(): number {
    return this.detectors.size;
  }
}

function sameSettings(a: OutlierSettings, b: OutlierSettings): boolean {
  return (Object.keys(a) as (keyof OutlierSettings)[]).every((k) => a[k] === b[k]);
}
