import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsString, IsUUID, Length, Matches } from 'class-validator';

export const LINKABLE_BROKERS = ['kiwoom-mock', 'kiwoom'] as const;
export type LinkableBroker = (typeof LINKABLE_BROKERS)[number];

export class LinkBrokerAccountDto {
  @ApiProperty({
    enum: LINKABLE_BROKERS,
    description: "kiwoom-mock: Kiwoom's mock-investment host; kiwoom: real money",
  })
  @IsIn(LINKABLE_BROKERS)
  broker: LinkableBroker;

  @ApiProperty({ description: 'the app key issued by Kiwoom for this account (sealed at rest, never shown again)' })
  @IsString()
  @Length(1, 256)
  @Matches(/^[\x21-\x7e]+$/, { message: 'appKey must be printable ASCII without spaces' })
  appKey: string;

  @ApiProperty({ description: 'the secret key that goes with the app key (sealed at rest, never shown again)' })
  @IsString()
  @Length(1, 256)
  @Matches(/^[\x21-\x7e]+$/, { message: 'secretKey must be printable ASCII without spaces' })
  secretKey: string;

  @ApiProperty({ example: '8123-4567-89', description: 'the account number, digits (hyphens allowed)' })
  @IsString()
  @Matches(/^[0-9][0-9-]{6,18}[0-9]$/, { message: 'accountNo must be 8-20 digits, hyphens allowed' })
  accountNo: string;
}

export class BrokerAccountIdParamDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  id: string;
}

export class BrokerAccountDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: LINKABLE_BROKERS }) broker: LinkableBroker;
  @ApiProperty({ example: '******4567', description: 'the last four digits only' }) accountNo: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({
    format: 'date-time',
    description: 'when a token was issued and the account read with these credentials',
  })
  verifiedAt: string;
}

export class DriftDto {
  @ApiProperty({ example: '005930', description: "a stock code, or 'cash'" }) item: string;
  @ApiProperty({ description: "what the platform's books hold (shares, or KRW the strategies count on)" })
  platform: number;
  @ApiProperty({ description: 'what the broker reports (kt00018 holdings, kt00001 orderable cash)' }) broker: number;
}

export class ReconciliationDto {
  @ApiProperty({ example: '2026-03-11' }) tradingDate: string;
  @ApiProperty({ description: "KRW the account's active strategies count on" }) platformCash: number;
  @ApiProperty({ description: 'KRW the broker says the account can order with' }) brokerCash: number;
  @ApiProperty({ type: [DriftDto], description: 'every difference found; empty: the broker agrees' })
  drifts: DriftDto[];
  @ApiProperty({ format: 'date-time' }) checkedAt: string;
}
