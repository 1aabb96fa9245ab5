import { Counter, Gauge, type Registry } from 'prom-client';

export const IS_LEADER_METRIC = 'leader_election_is_leader';
export const TRANSITIONS_METRIC = 'leader_election_transitions_total';

/**
 * leader_election_is_leader{lease}: 1 only while this instance leads and its term has started
 * (onStartedLeading completed), so a lease holder that cannot do the leader's work reports 0;
 * leader_election_transitions_total{lease,transition}: terms begun ("started", the lease taken)
 * and ended ("stopped").
 */
export class ElectionMetrics {
  private readonly isLeader: Gauge<'lease'> | undefined;
  private readonly transitions: Counter<'lease' | 'transition'> | undefined;

  constructor(
    registry: Registry | undefined,
    private readonly lease: string,
  ) {
    if (!registry) {
      return;
    }
    // several electors may share one registry (tests run many in one process): reuse the metric
    this.isLeader =
      (registry.getSingleMetric(IS_LEADER_METRIC) as Gauge<'lease'> | undefined) ??
      new Gauge({
        name: IS_LEADER_METRIC,
        help: '1 while this instance holds the leader lease and has started leading (onStartedLeading succeeded), else 0',
        labelNames: ['lease'],
        registers: [registry],
      });
    this.transitions =
      (registry.getSingleMetric(TRANSITIONS_METRIC) as Counter<'lease' | 'transition'> | undefined) ??
      new Counter({
        name: TRANSITIONS_METRIC,
        help: 'Leadership changes of this instance (transition="started": took the lease, or "stopped")',
        labelNames: ['lease', 'transition'],
        registers: [registry],
      });
    this.isLeader.set({ lease }, 0);
  }

  started(): void {
    this.transitions?.inc({ lease: this.lease, transition: 'started' });
  }

  leading(on: boolean): void {
    this.isLeader?.set({ lease: this.lease }, on ? 1 : 0);
  }

  stopped(): void {
    this.isLeader?.set({ lease: this.lease }, 0);
    this.transitions?.inc({ lease: this.lease, transition: 'stopped' });
  }
}
