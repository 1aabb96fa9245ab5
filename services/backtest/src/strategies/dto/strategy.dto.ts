import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { normalizeText } from '@stocklab/platform';
import type { StrategyDefinition } from '@stocklab/strategy-engine';
import { IsInt, IsOptional, IsString, Length, Max, MaxLength, Min, ValidateIf } from 'class-validator';

const DEFINITION_DOC = {
  type: 'object',
  additionalProperties: true,
  description:
    'A StrategyDefinition (schema version 1), validated by the strategy engine. ' +
    'Its JSON Schema is served at GET /api/backtest/strategies/schema; factor ids at GET /api/backtest/factors.',
} as const;

/*
 * Bodies are validated in two parts (StrategyBodyPipe): the *FieldsDto classes hold the
 * class-validator rules of everything but `definition`, which parseStrategyDefinition validates
 * (iteratively, depth-limited) and which class-transformer must never walk. The full DTOs below
 * add `definition` for the OpenAPI document only.
 */

export class CreateStrategyFieldsDto {
  @ApiProperty({ minLength: 1, maxLength: 100, example: '저PER 모멘텀' })
  @Transform(normalizeText)
  @IsString()
  @Length(1, 100)
  name: string;

  @ApiPropertyOptional({ maxLength: 2000, default: '' })
  @IsOptional()
  @Transform(normalizeText)
  @IsString()
  @MaxLength(2000)
  description?: string;
}

/** POST body. */
export class CreateStrategyDto extends CreateStrategyFieldsDto {
  @ApiProperty(DEFINITION_DOC)
  definition: Record<string, unknown>;
}

export class UpdateStrategyFieldsDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 100 })
  @ValidateIf((o: UpdateStrategyFieldsDto) => o.name !== undefined)
  @Transform(normalizeText)
  @IsString()
  @Length(1, 100)
  name?: string;

  @ApiPropertyOptional({ maxLength: 2000 })
  @ValidateIf((o: UpdateStrategyFieldsDto) => o.description !== undefined)
  @IsString()
  @MaxLength(2000)
  description?: string;
}

/** PATCH body: any of the fields; every accepted change bumps `version`. */
export class UpdateStrategyDto extends UpdateStrategyFieldsDto {
  @ApiPropertyOptional(DEFINITION_DOC)
  definition?: Record<string, unknown>;
}

export class ListStrategiesQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  // checked by the service as strictly as a body (400 INVALID_CURSOR, the same code everywhere)
  cursor?: string;
}

export class StrategyDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() description: string;
  @ApiProperty(DEFINITION_DOC) definition: StrategyDefinition;
  @ApiProperty({ description: 'schema version of the definition' }) schemaVersion: number;
  @ApiProperty({ description: 'starts at 1, +1 on every update' }) version: number;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt: string;
  @ApiProperty({ type: String, format: 'date-time' }) updatedAt: string;
}

export class StrategyPageDto {
  @ApiProperty({ type: [StrategyDto] }) items: StrategyDto[];
  @ApiProperty({ type: String, nullable: true, description: 'pass as `cursor` for the next page; null on the last' })
  nextCursor: string | null;
}
