import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { normalizeText } from '@stocklab/platform';
import { Transform, Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';

export class HolidayDateParamDto {
  @ApiProperty({ example: '2026-09-25' })
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'date must be yyyy-mm-dd' })
  date: string;
}

export class PutHolidayDto {
  @ApiProperty({ example: 'Chuseok', minLength: 1, maxLength: 100 })
  @Transform(normalizeText)
  @IsString()
  @Length(1, 100)
  name: string;
}

export class ListHolidaysQueryDto {
  @ApiPropertyOptional({ example: 2026 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(2000)
  @Max(2100)
  year?: number;
}

export class HolidayResponseDto {
  @ApiProperty({ example: '2026-09-25' }) date: string;
  @ApiProperty() name: string;
}
