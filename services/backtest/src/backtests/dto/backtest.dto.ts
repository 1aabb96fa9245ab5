import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUUID, Matches, Max, Min } from 'class-validator';

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The body's fields other than `definition`, which StrategyBodyPipe passes through untouched to
 * the engine's iterative, depth-limited parser (class-transformer would recurse into it).
 */
export class CreateBacktestFieldsDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'a saved strategy of yours (or give `definition`)' })
  @IsOptional()
  @IsUUID()
  strategyId?: string;

  @ApiProperty({ example: '2015-01-01' })
  @IsString()
  @Matches(ISO_DATE, { message: 'from must be a date (yyyy-mm-dd)' })
  from: string;

  @ApiProperty({ example: '2024-12-31' })
  @IsString()
  @Matches(ISO_DATE, { message: 'to must be a date (yyyy-mm-dd)' })
  to: string;
}

/** A page of equity rows or trades: a limit over the maximum is a 400, as on every list (never clamped). */
export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 1000, description: 'default 1000 equity rows, 100 trades' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;

  @ApiPropertyOptional({ description: 'opaque cursor from the previous page' })
  @IsOptional()
  @IsString()
  // checked by the service as strictly as a body (400 INVALID_CURSOR, the same code everywhere)
  cursor?: string;
}

/** A page of the user's backtests: the same paging as the strategies list. */
export { ListStrategiesQueryDto as BacktestListQueryDto } from '../../strategies/dto/strategy.dto.js';

export class ExportQueryDto {
  @ApiPropertyOptional({ enum: ['csv'], default: 'csv' })
  @IsOptional()
  @IsIn(['csv'])
  format?: 'csv';

  @ApiPropertyOptional({ enum: ['equity', 'trades'], default: 'equity' })
  @IsOptional()
  @IsIn(['equity', 'trades'])
  part?: 'equity' | 'trades';
}

export class BacktestDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled'] }) status: string;
  @ApiProperty({ description: 'percent, 0-100' }) progress: number;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) strategyId: string | null;
  @ApiProperty() from: string;
  @ApiProperty() to: string;
  @ApiProperty({ type: Object, nullable: true }) metrics: Record<string, unknown> | null;
  @ApiProperty({ type: Object, nullable: true, description: 'benchmark, excess return, open positions' })
  summary: Record<string, unknown> | null;
  @ApiProperty({ type: String, nullable: true }) error: string | null;
  @ApiProperty() attempts: number;
  @ApiProperty() createdAt: string;
  @ApiProperty({ type: String, nullable: true }) startedAt: string | null;
  @ApiProperty({ type: String, nullable: true }) finishedAt: string | null;
}

/** For OpenAPI only: the full submission. */
export class CreateBacktestDto extends CreateBacktestFieldsDto {
  @ApiPropertyOptional({
    description: 'an inline strategy definition (see GET /api/backtest/strategies/schema)',
    type: Object,
  })
  definition?: unknown;
}
