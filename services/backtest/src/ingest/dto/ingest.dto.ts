import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, Matches } from 'class-validator';

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

export class IngestRequestDto {
  @ApiProperty({
    description: 'the trading date to ingest (yyyy-mm-dd, Korea), not after today',
    example: '2025-05-07',
  })
  @IsString()
  @Matches(ISO_DATE, { message: 'date must be a date (yyyy-mm-dd)' })
  date: string;

  @ApiPropertyOptional({
    description:
      "the caller's KRX calendar says the date trades (the trading service's calendar): an empty answer from KRX is then 'not published yet' (a failed run to retry), not 'no trading'",
  })
  @IsOptional()
  @IsBoolean()
  tradingDay?: boolean;
}

export class IngestCountsDto {
  @ApiPropertyOptional() KOSPI?: number;
  @ApiPropertyOptional() KOSDAQ?: number;
  @ApiPropertyOptional() KONEX?: number;
}

export class IngestTransferDto {
  @ApiProperty() code: string;
  @ApiProperty() from: string;
  @ApiProperty() to: string;
}

export class IngestCorporateActionDto {
  @ApiProperty() code: string;
  @ApiProperty({ enum: ['split', 'reverse_split', 'bonus_issue', 'rights_issue'] }) kind: string;
  @ApiProperty({ description: "the previous close / the ex-date's base price" }) priceFactor: number;
  @ApiProperty({ description: 'shares a holder has per old share (1 for a rights issue)' }) shareRatio: number;
  @ApiPropertyOptional({ description: 'bonus and rights issues: the OpenDART filing (rcept_no) that dates the event' })
  receiptNo?: string;
}

export class IngestBasePriceChangeDto {
  @ApiProperty() code: string;
  @ApiProperty() previousClose: number;
  @ApiProperty() basePrice: number;
  @ApiProperty() sharesBefore: number;
  @ApiProperty() sharesAfter: number;
}

export class IngestDelistingDto {
  @ApiProperty() code: string;
  @ApiProperty({ description: 'the date recorded: the first trading day without the stock (yyyy-mm-dd)' })
  delistedOn: string;
  @ApiProperty({ description: "the delisting notice's OpenDART receipt number" }) receiptNo: string;
  @ApiProperty() reportName: string;
}

export class IngestDetailsDto {
  @ApiPropertyOptional({ type: IngestCountsDto, description: 'rows per market as the provider answered' })
  counts?: IngestCountsDto;
  @ApiPropertyOptional({ type: [String], description: 'codes first seen this day: new securities listed on it' })
  listed?: string[];
  @ApiPropertyOptional({
    type: [String],
    description:
      'codes with a bar on the previous trading day and none on this one (a delisting date only for those under delisted)',
  })
  disappeared?: string[];
  @ApiPropertyOptional({
    type: [IngestDelistingDto],
    description: 'disappeared codes confirmed by a delisting notice on OpenDART: delisted_on set to this date',
  })
  delisted?: IngestDelistingDto[];
  @ApiPropertyOptional({
    type: [IngestCorporateActionDto],
    description: "splits from KRX's data, bonus and rights issues from OpenDART's filings, recorded this day",
  })
  corporateActions?: IngestCorporateActionDto[];
  @ApiPropertyOptional({
    type: [IngestBasePriceChangeDto],
    description: 'base prices off the previous close that nothing explains: for an administrator',
  })
  basePriceChanges?: IngestBasePriceChangeDto[];
  @ApiPropertyOptional({ type: [IngestTransferDto] }) transferred?: IngestTransferDto[];
  @ApiPropertyOptional({
    type: [String],
    description: 'rows without a trade (halts): a flat bar at the close, volume 0',
  })
  untraded?: string[];
  @ApiPropertyOptional() inserted?: number;
  @ApiPropertyOptional() updated?: number;
  @ApiPropertyOptional() unchanged?: number;
}

export class IngestRunDto {
  @ApiProperty({ example: '2025-05-07' }) date: string;
  @ApiProperty({ description: 'attempt number at this date, from 1' }) attempt: number;
  @ApiProperty({ enum: ['running', 'succeeded', 'no_trading', 'failed'] }) status: string;
  @ApiProperty({ example: 'krx-open-api' }) provider: string;
  @ApiProperty({ description: 'what triggered it: api (POST /market/ingest) or cli (dist/cli/ingest.js)' })
  trigger: string;
  @ApiProperty({ type: Number, nullable: true }) rows: number | null;
  @ApiProperty({ type: String, nullable: true, description: 'market.data_version after the load' })
  dataVersion: string | null;
  @ApiProperty({ type: Boolean, nullable: true, description: 'the load made a new data version' })
  changed: boolean | null;
  @ApiProperty({ type: String, nullable: true }) error: string | null;
  @ApiProperty({ type: IngestDetailsDto }) details: IngestDetailsDto;
  @ApiProperty({ type: String, format: 'date-time' }) startedAt: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) finishedAt: string | null;
}

export class IngestResultDto extends IngestRunDto {
  @ApiProperty({ description: 'the date was already ingested by an earlier run, which this answers; nothing was done' })
  replayed: boolean;
}

export class StatementsIngestRequestDto {
  @ApiProperty({
    description: 'first receipt date of the periodic reports to read (yyyy-mm-dd)',
    example: '2025-05-15',
  })
  @IsString()
  @Matches(ISO_DATE, { message: 'from must be a date (yyyy-mm-dd)' })
  from: string;

  @ApiProperty({ description: 'last receipt date, inclusive, not after today (Asia/Seoul)', example: '2025-05-15' })
  @IsString()
  @Matches(ISO_DATE, { message: 'to must be a date (yyyy-mm-dd)' })
  to: string;
}

export class StatementRowValuesDto {
  @ApiProperty() revenue: number;
  @ApiProperty() operating_income: number;
  @ApiProperty() net_income: number;
  @ApiProperty() total_equity: number;
  @ApiProperty() total_liabilities: number;
  @ApiProperty({ type: Number, nullable: true, description: 'null: not in the report (so for every optional figure)' })
  gross_profit: number | null;
  @ApiProperty({ type: Number, nullable: true }) operating_cash_flow: number | null;
  @ApiProperty({ type: Number, nullable: true }) depreciation_amortization: number | null;
  @ApiProperty({ type: Number, nullable: true }) interest_expense: number | null;
  @ApiProperty({ type: Number, nullable: true }) dividends_paid: number | null;
  @ApiProperty({ type: Number, nullable: true }) current_assets: number | null;
  @ApiProperty({ type: Number, nullable: true }) current_liabilities: number | null;
  @ApiProperty({ type: Number, nullable: true }) cash_and_equivalents: number | null;
  @ApiProperty({ type: Number, nullable: true }) total_borrowings: number | null;
}

export class StatementRowDto {
  @ApiProperty({ example: '005930' }) code: string;
  @ApiProperty({ example: '2025Q1' }) fiscalPeriod: string;
  @ApiProperty({ description: 'the filing date: the first day the figures are used', example: '2025-05-15' })
  reportDate: string;
  @ApiProperty({ type: StatementRowValuesDto, description: 'flows of the quarter alone, stocks at its end (KRW)' })
  values: StatementRowValuesDto;
  @ApiProperty({ enum: ['CFS', 'OFS'], description: 'consolidated, or separate for a company without subsidiaries' })
  basis: string;
  @ApiProperty({ example: '20250515000456' }) receiptNo: string;
}

export class SkippedFilingDto {
  @ApiProperty() receiptNo: string;
  @ApiProperty({ type: String, nullable: true }) code: string | null;
  @ApiProperty() report: string;
  @ApiProperty() reason: string;
}

export class StatementsIngestResultDto {
  @ApiProperty() from: string;
  @ApiProperty() to: string;
  @ApiProperty({ description: 'periodic filings received in the range' }) filings: number;
  @ApiProperty({ type: [StatementRowDto] }) rows: StatementRowDto[];
  @ApiProperty({ type: [SkippedFilingDto] }) skipped: SkippedFilingDto[];
  @ApiProperty() inserted: number;
  @ApiProperty() updated: number;
  @ApiProperty() unchanged: number;
  @ApiProperty({ type: String, nullable: true }) dataVersion: string | null;
  @ApiProperty() changed: boolean;
}
