import { ApiProperty } from '@nestjs/swagger';
import {
  FACTOR_CATEGORIES,
  type FactorCategory,
  type FactorId,
  type FactorInfo,
  type FactorKind,
} from '@stocklab/strategy-engine';

const CATEGORY_IDS = FACTOR_CATEGORIES.map((c) => c.id);

export class FactorDto {
  @ApiProperty({ example: 'mom_3m', description: 'the id strategy definitions use' }) id: FactorId;
  @ApiProperty({ example: '3-month momentum' }) name: string;
  @ApiProperty({ example: '3개월 수익률' }) nameKo: string;
  @ApiProperty() description: string;
  @ApiProperty({ enum: ['%', 'ratio', 'x', 'KRW', 'index'] }) unit: FactorInfo['unit'];
  @ApiProperty({ enum: ['price', 'fundamental'] }) kind: FactorKind;
  @ApiProperty({ enum: CATEGORY_IDS, description: 'see GET /factors/categories' }) category: FactorCategory;
  @ApiProperty({ description: 'trading days of price history needed before the first value' }) lookbackDays: number;
}

export class FactorCategoryDto {
  @ApiProperty({ enum: CATEGORY_IDS }) id: FactorCategory;
  @ApiProperty({ example: 'Value' }) name: string;
  @ApiProperty({ example: '가치' }) nameKo: string;
  @ApiProperty({ description: 'the ids of its factors, in catalog order', example: ['per', 'pbr', 'psr'] })
  factors: FactorId[];
}
