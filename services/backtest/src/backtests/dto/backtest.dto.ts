import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { Transform, type TransformFnParams } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  Min,
} from 'class-validator';

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

/** A backtest in the user's list and in a comparison: with the name of its saved strategy. */
export class BacktestSummaryDto extends BacktestDto {
  @ApiProperty({
    type: String,
    nullable: true,
    description: "the saved strategy's name (null for an inline definition or a deleted strategy)",
  })
  strategyName: string | null;
}

export const MAX_COMPARED = 5;

export class CompareQueryDto {
  @ApiProperty({
    type: String,
    description: `2 to ${MAX_COMPARED} succeeded backtests of yours, comma-separated ids`,
    example: '6f1c...,9a2e...',
  })
  @Transform(({ value }: TransformFnParams): unknown =>
    typeof value === 'string' ? value.split(',').map((v) => v.trim()) : (value as unknown),
  )
  @IsArray({ message: 'ids must be a comma-separated list of backtest ids' })
  @ArrayMinSize(2, { message: 'ids must name at least 2 backtests' })
  @ArrayMaxSize(MAX_COMPARED, { message: `ids may name at most ${MAX_COMPARED} backtests` })
  @ArrayUnique({ message: 'ids must not repeat a backtest' })
  @IsUUID('all', { each: true, message: 'each id must be a UUID' })
  ids: string[];
}

export class CompareSeriesDto {
  @ApiProperty({ format: 'uuid' }) backtestId: string;
  @ApiProperty({
    type: [Number],
    nullable: true,
    description: 'portfolio value (KRW) on each date; null outside its range',
  })
  value: Array<number | null>;
  @ApiProperty({
    type: [Number],
    nullable: true,
    description: "value / its first day's value - 1 (a fraction), on each date",
  })
  cumulativeReturn: Array<number | null>;
  @ApiProperty({
    type: [Number],
    nullable: true,
    description: 'value / its peak so far - 1 (a fraction, <= 0), as /equity gives it',
  })
  drawdown: Array<number | null>;
}

export class CompareDto {
  @ApiProperty({ type: [BacktestSummaryDto], description: 'in the order asked' }) backtests: BacktestSummaryDto[];
  @ApiProperty({ type: [String], description: 'one date axis: every day of any of them, ascending' }) dates: string[];
  @ApiProperty({ type: [CompareSeriesDto], description: 'in the order asked, aligned with dates' })
  series: CompareSeriesDto[];
}
