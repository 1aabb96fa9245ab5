import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type DatasetKind = 'securities' | 'bars' | 'statements' | 'classifications' | 'corporate_actions';
export type DatasetStatus = 'queued' | 'validating' | 'loading' | 'succeeded' | 'failed';

export interface DatasetRowError {
  line: number;
  message: string;
}

/** An uploaded CSV (stored in object storage) and the outcome of importing it. */
@Entity({ schema: 'backtest', name: 'datasets' })
export class Dataset {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ name: 'owner_id', type: 'uuid' }) ownerId: string;
  @Column({ type: 'text' }) kind: DatasetKind;
  @Column({ type: 'text' }) status: DatasetStatus;
  @Column({ name: 'file_name', type: 'text' }) fileName: string;
  @Column({ name: 'object_key', type: 'text' }) objectKey: string;
  @Column({ name: 'size_bytes', type: 'bigint' }) sizeBytes: string;
  @Column({ type: 'text' }) sha256: string;
  @Column({ name: 'rows_total', type: 'integer', nullable: true }) rowsTotal: number | null;
  @Column({ name: 'rows_inserted', type: 'integer', nullable: true }) rowsInserted: number | null;
  @Column({ name: 'rows_updated', type: 'integer', nullable: true }) rowsUpdated: number | null;
  @Column({ name: 'rows_unchanged', type: 'integer', nullable: true }) rowsUnchanged: number | null;
  @Column({ type: 'jsonb', default: () => `'[]'` }) errors: DatasetRowError[];
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt: Date | null;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt: Date | null;
}
