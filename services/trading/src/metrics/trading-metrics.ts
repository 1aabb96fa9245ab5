import { Injectable } from '@nestjs/common';
import { HttpMetrics } from '@stocklab/platform';
import { Counter, Gauge } from 'prom-client';

/** The trading service's own metrics, on the process registry (served at /metrics). */
@Injectable()
export class TradingMetrics {
  readonly missedRuns: Counter<'job'>;
  readonly fencingRejections: Counter;
  readonly runs: Counter<'job' | 'status' | 'trigger'>;
  readonly orders: Counter<'side' | 'status'>;
  readonly staleData: Counter<'job'>;
  readonly brokerDrifts: Counter;
  readonly accountsDrifting: Gauge;

  constructor(http: HttpMetrics) {
    const registers = [http.registry];
    this.missedRuns = new Counter({
      name: 'trading_missed_runs_total',
      help: 'Occurrences skipped because they were missed by more than the catch-up grace window',
      labelNames: ['job'],
      registers,
    });
    this.fencingRejections = new Counter({
      name: 'trading_fencing_rejections_total',
      help: 'Writes rejected because their fencing epoch was no longer current',
      registers,
    });
    this.runs = new Counter({
      name: 'trading_job_runs_total',
      help: 'Job runs finished by this replica, by job, status and trigger',
      labelNames: ['job', 'status', 'trigger'],
      registers,
    });
    this.staleData = new Counter({
      name: 'trading_stale_market_data_total',
      help: "Runs refused because the previous KRX trading day's bars were not imported yet",
      labelNames: ['job'],
      registers,
    });
    this.brokerDrifts = new Counter({
      name: 'trading_broker_drifts_total',
      help: "Differences found by the day-end reconciliation between the platform's books and a linked broker account",
      registers,
    });
    this.accountsDrifting = new Gauge({
      name: 'trading_broker_accounts_drifting',
      help: 'Linked broker accounts whose last day-end reconciliation found a difference',
      registers,
    });
    this.orders = new Counter({
      name: 'trading_orders_total',
      help: 'Order intents completed by this replica, by side and outcome',
      labelNames: ['side', 'status'],
      registers,
    });
  }
}
