import { ApiProperty } from '@nestjs/swagger';
import { IsUUID } from 'class-validator';

/**
 * The `:id` of a resource, validated like any other input: a malformed one is the same
 * 400 VALIDATION_FAILED ("id must be a UUID") in every service (a ParseUUIDPipe answered
 * 400 BAD_REQUEST with other words for the same fault).
 */
export class IdParamDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  id: string;
}
