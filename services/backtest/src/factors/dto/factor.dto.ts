import { ApiProperty } from '@nestjs/swagger';
import type { FactorId, FactorInfo, FactorKind } from '@stocklab/strategy-engine';

export class FactorDto {
  @ApiProperty({ example: 'mom_3m', description: 'the id strategy definitions use' }) id: FactorId;
  @ApiProperty({ example: '3-month momentum' }) name: string;
  @ApiProperty() description: string;
  @ApiProperty({ enum: ['%', 'ratio', 'x', 'KRW', 'index'] }) unit: FactorInfo['unit'];
  @ApiProperty({ enum: ['price', 'fundamental'] }) kind: FactorKind;
  @ApiProperty({ description: 'trading days of price history needed before the first value' }) lookbackDays: number;
}
