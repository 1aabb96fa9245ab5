import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsOptional, Matches } from 'class-validator';
import { JOB_NAMES, type JobName } from '../../scheduler/occurrence.js';

export class JobParamDto {
  @ApiProperty({ enum: JOB_NAMES })
  @IsIn(JOB_NAMES)
  job: JobName;
}

export class TriggerRunDto {
  @ApiPropertyOptional({ example: '2026-11-27', description: "trading date (default: the trading clock's today)" })
  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'date must be yyyy-mm-dd' })
  date?: string;

  @ApiPropertyOptional({
    default: false,
    description:
      'Run a failed occurrence again: the same run, under the current epoch, resuming its plan and its orders (idempotent: concurrent re-runs make one)',
  })
  @IsOptional()
  @IsBoolean()
  retryFailed?: boolean;
}

export class JobRunDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'execute:2026-11-27T09:00+09:00' }) runKey: string;
  @ApiProperty({ enum: JOB_NAMES }) job: JobName;
  @ApiProperty() tradingDate: string;
  @ApiProperty() scheduledAt: string;
  @ApiProperty() epoch: number;
  @ApiProperty() runner: string;
  @ApiProperty({
    enum: ['running', 'succeeded', 'failed', 'skipped', 'waiting'],
    description: 'waiting: refused for stale market data (error says which day); retried by the catch-up sweep',
  })
  status: string;
  @ApiProperty({ enum: ['cron', 'catch-up', 'api'] }) trigger: string;
  @ApiProperty() attempts: number;
  @ApiProperty({ nullable: true, type: String }) plannedAt: string | null;
  @ApiProperty() startedAt: string;
  @ApiProperty() heartbeatAt: string;
  @ApiProperty({ nullable: true, type: String }) finishedAt: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) summary: Record<string, unknown>;
  @ApiProperty({ nullable: true, type: String }) error: string | null;
}
