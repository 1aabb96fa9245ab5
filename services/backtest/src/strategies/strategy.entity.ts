import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { StrategyDefinition } from '@stocklab/strategy-engine';

/** A user's research strategy: a validated definition, versioned on every update. */
@Entity({ schema: 'backtest', name: 'strategies' })
export class Strategy {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ name: 'owner_id', type: 'uuid' }) ownerId: string;
  @Column({ type: 'text' }) name: string;
  @Column({ type: 'text', default: '' }) description: string;
  @Column({ type: 'jsonb' }) definition: StrategyDefinition;
  @Column({ name: 'schema_version', type: 'integer' }) schemaVersion: number;
  @Column({ type: 'integer', default: 1 }) version: number;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
}
