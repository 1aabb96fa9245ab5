import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { IngestRunDto } from '../../ingest/dto/ingest.dto.js';
import { ListStrategiesQueryDto } from '../../strategies/dto/strategy.dto.js';

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
/** Letters (Hangul included), digits, spaces and the punctuation of listed company names; no controls. */
const SEARCH_TEXT = /^[\p{L}\p{M}\p{N} &.,()'·-]+$/u;

export const MARKETS = ['KOSPI', 'KOSDAQ', 'KONEX'] as const;
export type MarketId = (typeof MARKETS)[number];

/** `limit` (1-100, default 20) and `cursor`, as every list pages. */
export class SecuritiesQueryDto extends ListStrategiesQueryDto {
  @ApiPropertyOptional({
    description:
      'a code prefix (005 finds 005930) or a name prefix (삼성 finds 삼성전자), case-insensitive; omit to list all',
    example: '삼성',
  })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(40)
  @Matches(SEARCH_TEXT, { message: "q may hold letters, digits, spaces and & . , ( ) ' · - only" })
  q?: string;

  @ApiPropertyOptional({ enum: MARKETS })
  @IsOptional()
  @IsIn(MARKETS)
  market?: MarketId;

  @ApiPropertyOptional({ example: 'IT' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  sector?: string;

  @ApiPropertyOptional({ description: 'only the securities listed on this date (yyyy-mm-dd); all when omitted' })
  @IsOptional()
  @IsString()
  @Matches(ISO_DATE, { message: 'listedOn must be a date (yyyy-mm-dd)' })
  listedOn?: string;
}

export class SectorsQueryDto {
  @ApiPropertyOptional({ description: 'count the securities listed on this date; default the last trading day' })
  @IsOptional()
  @IsString()
  @Matches(ISO_DATE, { message: 'date must be a date (yyyy-mm-dd)' })
  date?: string;
}

export class SecurityDto {
  @ApiProperty({ example: '005930' }) code: string;
  @ApiProperty({ example: '삼성전자' }) name: string;
  @ApiProperty({ enum: MARKETS }) market: string;
  @ApiProperty() sector: string;
  @ApiProperty({ example: '1975-06-11' }) listedOn: string;
  @ApiProperty({ type: String, nullable: true }) delistedOn: string | null;
}

export class SecuritiesPageDto {
  @ApiProperty({ type: [SecurityDto] }) items: SecurityDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}

export class CountDto {
  @ApiProperty() count: number;
}

export class MarketCountDto extends CountDto {
  @ApiProperty({ enum: MARKETS }) market: string;
}

export class SectorCountDto extends CountDto {
  @ApiProperty() sector: string;
  @ApiProperty({ type: Object, description: 'the count per market, e.g. { "KOSPI": 12, "KOSDAQ": 30 }' })
  byMarket: Record<string, number>;
}

export class SectorsDto {
  @ApiProperty({ type: String, nullable: true, description: 'the date counted (null: no market data yet)' })
  date: string | null;
  @ApiProperty() total: number;
  @ApiProperty({ type: [MarketCountDto] }) markets: MarketCountDto[];
  @ApiProperty({ type: [SectorCountDto] }) sectors: SectorCountDto[];
}

export class MarketFreshnessDto {
  @ApiProperty({ enum: MARKETS }) market: string;
  @ApiProperty({ description: 'securities listed on the last trading day' }) listed: number;
  @ApiProperty({ type: String, nullable: true, description: 'the last date with a bar of this market' })
  latestBarDate: string | null;
}

/** Whose import it was stays with its owner: only what it did to the market is shown. */
export class LastImportDto {
  @ApiProperty({ enum: ['securities', 'bars', 'statements', 'classifications', 'corporate_actions'] }) kind: string;
  @ApiProperty({ enum: ['queued', 'validating', 'loading', 'succeeded', 'failed'] }) status: string;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) finishedAt: string | null;
}

export class MarketStatusDto {
  @ApiProperty({ description: 'market.data_version: changes with every import that changes market data' })
  dataVersion: string;
  @ApiProperty({ type: String, format: 'date-time' }) dataUpdatedAt: string;
  @ApiProperty({ type: String, nullable: true }) firstTradingDay: string | null;
  @ApiProperty({ type: String, nullable: true }) lastTradingDay: string | null;
  @ApiProperty() tradingDays: number;
  @ApiProperty({ type: [MarketFreshnessDto] }) markets: MarketFreshnessDto[];
  @ApiProperty({ type: LastImportDto, nullable: true, description: 'the newest market data import' })
  lastImport: LastImportDto | null;
  @ApiProperty({
    type: IngestRunDto,
    nullable: true,
    description: 'the newest daily ingest run (any date) and its outcome: running, succeeded, no_trading or failed',
  })
  lastIngest: IngestRunDto | null;
  @ApiProperty({ type: String, nullable: true, description: 'the latest date a daily ingest succeeded for' })
  lastIngestedDate: string | null;
}
