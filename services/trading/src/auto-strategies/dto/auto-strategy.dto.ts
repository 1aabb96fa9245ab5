import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { normalizeText } from '@stocklab/platform';
import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUUID, Length, Matches, Max, Min } from 'class-validator';

export class ActivateAutoStrategyDto {
  @ApiProperty({ format: 'uuid', description: 'id of a strategy of yours in the backtest service' })
  @IsUUID()
  strategyId: string;

  @ApiProperty({ example: 10_000_000, description: 'KRW moved from the paper account to the strategy' })
  @IsInt()
  @Min(1)
  @Max(1_000_000_000_000)
  allocatedCapital: number;

  @ApiPropertyOptional({ minLength: 1, maxLength: 100, description: "default: the research strategy's name" })
  @IsOptional()
  @Transform(normalizeText)
  @IsString()
  @Length(1, 100)
  name?: string;

  @ApiPropertyOptional({
    format: 'uuid',
    description:
      'a linked broker account (/api/trading/broker-accounts) to trade on; its capital stays there. Default: the paper broker',
  })
  @IsOptional()
  @IsUUID()
  brokerAccountId?: string;
}

export class RenameAutoStrategyDto {
  @ApiProperty({ minLength: 1, maxLength: 100 })
  @Transform(normalizeText)
  @IsString()
  @Length(1, 100)
  name: string;
}

export const DEACTIVATION_MODES = ['immediate', 'liquidate'] as const;

export class DeactivateAutoStrategyDto {
  @ApiProperty({
    enum: DEACTIVATION_MODES,
    description:
      'immediate: stop trading now, positions are kept; liquidate: sell everything at the next execute run, then stop',
  })
  @IsIn(DEACTIVATION_MODES)
  mode: (typeof DEACTIVATION_MODES)[number];
}

export class AutoStrategyIdParamDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  id: string;
}

export class PositionParamDto extends AutoStrategyIdParamDto {
  @ApiProperty({ example: '005930', description: 'KRX stock code' })
  @Matches(/^[0-9A-Z]{6}$/, { message: 'code must be a 6-character KRX stock code' })
  code: string;
}

export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}

export class AutoStrategyDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ format: 'uuid' }) sourceStrategyId: string;
  @ApiProperty() sourceVersion: number;
  @ApiProperty({ enum: ['active', 'liquidating', 'inactive'] }) status: string;
  @ApiProperty({ description: 'KRW' }) allocatedCapital: number;
  @ApiProperty({ description: 'KRW' }) cash: number;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'the rules snapshot taken at activation' })
  rules: Record<string, unknown>;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
  @ApiProperty({ nullable: true, type: String }) deactivatedAt: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'the linked broker account it trades on; null: paper' })
  brokerAccountId: string | null;
}

export class PositionDto {
  @ApiProperty() code: string;
  @ApiProperty() quantity: number;
  @ApiProperty() entryPrice: number;
  @ApiProperty() entryDate: string;
  @ApiProperty({ description: 'KRW paid' }) cost: number;
  @ApiProperty({ nullable: true, type: Number }) lastPrice: number | null;
  @ApiProperty({ nullable: true, type: Number }) marketValue: number | null;
  @ApiProperty({
    nullable: true,
    type: String,
    enum: ['rebalance', 'sell_condition', 'max_holding', 'liquidation', 'manual'],
    description: 'A sell at the open decided and not filled yet: sent at every execute run until it fills',
  })
  pendingSell: string | null;
}

export class OrderDto {
  @ApiProperty() clientOrderId: string;
  @ApiProperty() runKey: string;
  @ApiProperty({ description: 'The KRX session the day order is for' }) tradingDate: string;
  @ApiProperty() code: string;
  @ApiProperty({ enum: ['buy', 'sell'] }) side: string;
  @ApiProperty({
    enum: ['market_sell', 'limit_buy', 'stop_sell', 'target_sell'],
    description:
      'market_sell: at the open; limit_buy: a day limit at the signal close + 5 %; stop_sell: a stop at the stop-loss level; target_sell: a day limit at the take-profit level',
  })
  kind: string;
  @ApiProperty() quantity: number;
  @ApiProperty({ nullable: true, type: Number, description: 'The limit, stop or target price (KRW)' })
  level: number | null;
  @ApiProperty() reason: string;
  @ApiProperty({
    enum: ['pending', 'sending', 'sent', 'accepted', 'filled', 'expired', 'rejected', 'needs_review'],
    description:
      'accepted: at the broker, waiting for its trading day; expired: the day did not reach it (a day order); ' +
      'sending: an attempt left for a linked account and its answer is not stored yet; needs_review: the broker ' +
      'cannot tell which of its orders this is: never sent again, a person decides',
  })
  status: string;
  @ApiProperty({ nullable: true, type: String }) rejectReason: string | null;
  @ApiProperty({ nullable: true, type: String }) reviewReason: string | null;
  @ApiProperty({
    nullable: true,
    type: Number,
    description: 'filled: the shares that filled (fewer on a partial fill)',
  })
  filledQuantity: number | null;
  @ApiProperty({ nullable: true, type: String, description: "the broker's order number" }) brokerOrderId: string | null;
  @ApiProperty({ description: 'linked accounts: attempts sent (each after the broker confirmed the last one absent)' })
  attempts: number;
  @ApiProperty({ nullable: true, type: Number, description: 'Per share, the cost model’s slippage included' })
  fillPrice: number | null;
  @ApiProperty({
    nullable: true,
    type: String,
    enum: ['open', 'level', 'broker'],
    description: "broker: a linked account's average fill price, as the broker reports it",
  })
  fillPriceSource: string | null;
  @ApiProperty({ nullable: true, type: Number, description: 'KRW, quantity x fill price' }) fillAmount: number | null;
  @ApiProperty({ nullable: true, type: Number, description: 'KRW' }) commission: number | null;
  @ApiProperty({ nullable: true, type: Number, description: 'KRW, sells only' }) tax: number | null;
  @ApiProperty() createdAt: string;
  @ApiProperty({ nullable: true, type: String }) completedAt: string | null;
}

export class StrategyLogDto {
  @ApiProperty() id: number;
  @ApiProperty({ nullable: true, type: String }) runKey: string | null;
  @ApiProperty({ enum: ['info', 'warn', 'error'] }) level: string;
  @ApiProperty() message: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) details: Record<string, unknown>;
  @ApiProperty() createdAt: string;
}

export class PerformancePointDto {
  @ApiProperty({ description: 'The market day whose close the value is taken at' }) date: string;
  @ApiProperty() value: number;
  @ApiProperty() cash: number;
  @ApiProperty() invested: number;
}
