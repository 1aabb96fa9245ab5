import { ApiProperty } from '@nestjs/swagger';

export class UserDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() email: string;
  @ApiProperty() nickname: string;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt: string;
}

export class MeDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() email: string;
  @ApiProperty() nickname: string;
  @ApiProperty({ type: [String] }) roles: string[];
}
