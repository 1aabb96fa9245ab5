import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsUUID, Max, Min } from 'class-validator';
import type { Dataset, DatasetKind, DatasetStatus } from '../dataset.entity.js';

export class DatasetIdParams {
  @IsUUID('all')
  id: string;
}

export class ListDatasetsQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiPropertyOptional({ minimum: 0, default: 0 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  offset?: number;
}

export class DatasetRowErrorDto {
  @ApiProperty({ description: 'line number in the file (the header is line 1)' }) line: number;
  @ApiProperty() message: string;
}

/** 202 answer of an upload: stored, queued for import. */
export class DatasetAcceptedDto {
  @ApiProperty() id: string;
  @ApiProperty({ enum: ['queued'] }) status: 'queued';
  @ApiProperty({ enum: ['securities', 'bars', 'statements', 'classifications', 'corporate_actions'] })
  kind: DatasetKind;
  @ApiProperty() fileName: string;
  @ApiProperty() sizeBytes: number;
  @ApiProperty({ description: 'hex SHA-256 of the file as received' }) sha256: string;
}

export class DatasetDto {
  @ApiProperty() id: string;
  @ApiProperty({ enum: ['securities', 'bars', 'statements', 'classifications', 'corporate_actions'] })
  kind: DatasetKind;
  @ApiProperty({ enum: ['queued', 'validating', 'loading', 'succeeded', 'failed'] }) status: DatasetStatus;
  @ApiProperty() fileName: string;
  @ApiProperty() sizeBytes: number;
  @ApiProperty() sha256: string;
  @ApiProperty({ nullable: true, type: Number }) rowsTotal: number | null;
  @ApiProperty({ nullable: true, type: Number }) rowsInserted: number | null;
  @ApiProperty({ nullable: true, type: Number }) rowsUpdated: number | null;
  @ApiProperty({ nullable: true, type: Number }) rowsUnchanged: number | null;
  @ApiProperty({ type: [DatasetRowErrorDto], description: 'the first 20 errors, by line' })
  errors: DatasetRowErrorDto[];
  @ApiProperty() createdAt: string;
  @ApiProperty({ nullable: true, type: String }) startedAt: string | null;
  @ApiProperty({ nullable: true, type: String }) finishedAt: string | null;

  static from(d: Dataset): DatasetDto {
    return {
      id: d.id,
      kind: d.kind,
      status: d.status,
      fileName: d.fileName,
      sizeBytes: Number(d.sizeBytes),
      sha256: d.sha256,
      rowsTotal: d.rowsTotal,
      rowsInserted: d.rowsInserted,
      rowsUpdated: d.rowsUpdated,
      rowsUnchanged: d.rowsUnchanged,
      errors: d.errors,
      createdAt: d.createdAt.toISOString(),
      startedAt: d.startedAt?.toISOString() ?? null,
      finishedAt: d.finishedAt?.toISOString() ?? null,
    };
  }
}

export class DatasetPageDto {
  @ApiProperty({ type: [DatasetDto] }) items: DatasetDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}
