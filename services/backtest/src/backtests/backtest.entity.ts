import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { StrategyDefinition } from '@stocklab/strategy-engine';

export type BacktestStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** One backtest run: what was asked, where it is, and its headline results. */
@Entity({ schema: 'backtest', name: 'backtests' })
export class Backtest {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ name: 'owner_id', type: 'uuid' }) ownerId: string;
  @Column({ name: 'strategy_id', type: 'uuid', nullable: true }) strategyId: string | null;
  @Column({ type: 'jsonb' }) definition: StrategyDefinition;
  @Column({ name: 'from_date', type: 'date' }) fromDate: string;
  @Column({ name: 'to_date', type: 'date' }) toDate: string;
  @Column({ type: 'text' }) status: BacktestStatus;
  @Column({ type: 'real', default: 0 }) progress: number;
  @Column({ type: 'jsonb', nullable: true }) metrics: Record<string, unknown> | null;
  @Column({ type: 'jsonb', nullable: true }) summary: Record<string, unknown> | null;
  @Column({ type: 'text', nullable: true }) error: string | null;
  @Column({ type: 'integer', default: 0 }) attempts: number;
  @Column({ type: 'text', nullable: true }) worker: string | null;
  @Column({ name: 'export_key', type: 'text', nullable: true }) exportKey: string | null;
  @Column({ name: 'data_version', type: 'bigint', nullable: true }) dataVersion: string | null;
  /** the client's Idempotency-Key, unique per owner, and a hash of the request it came with */
  @Column({ name: 'idempotency_key', type: 'text', nullable: true }) idempotencyKey: string | null;
  @Column({ name: 'request_hash', type: 'bytea', nullable: true, select: false }) requestHash: Buffer | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt: Date | null;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt: Date | null;
}
