import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsObject, IsOptional, IsString, Matches, Max, Min } from 'class-validator';

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A universe and buy conditions as a strategy definition has them (validated by the engine's parser). */
export class UniversePreviewRequestDto {
  @ApiProperty({
    description:
      "the strategy definition's `universe` (scope, markets/sectors/codes, minMarketCap, minAvgTradingValue)",
    example: { scope: 'markets', markets: ['KOSPI'], minMarketCap: 100000000000 },
  })
  @IsObject()
  universe: Record<string, unknown>;

  @ApiPropertyOptional({
    description: "the strategy definition's `buyConditions` (a condition tree)",
    example: { and: [{ factor: 'per', op: 'between', min: 0, max: 10 }] },
  })
  @IsOptional()
  @IsObject()
  buyConditions?: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'a trading day of the market data (yyyy-mm-dd); default the last one' })
  @IsOptional()
  @IsString()
  @Matches(ISO_DATE, { message: 'date must be a date (yyyy-mm-dd)' })
  date?: string;

  @ApiPropertyOptional({ description: 'how many of the passing stocks to list (all are counted)', default: 100 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1000)
  limit?: number;
}

export class PreviewStockDto {
  @ApiProperty({ example: '005930' }) code: string;
  @ApiProperty({ example: '삼성전자' }) name: string;
  @ApiProperty({ example: 'KOSPI', description: 'on the preview date' }) market: string;
  @ApiProperty({ example: '전기전자', description: 'on the preview date' }) sector: string;
}

export class UniversePreviewDto {
  @ApiProperty({ example: '2025-05-07' }) date: string;
  @ApiProperty({ description: 'the market data version the preview was computed on' }) dataVersion: string;
  @ApiProperty({ description: 'stocks passing the universe and the buy conditions on the date' }) count: number;
  @ApiProperty({ type: [PreviewStockDto], description: 'the first `limit` of them, by code' })
  stocks: PreviewStockDto[];
}
