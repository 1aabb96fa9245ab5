import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { normalizeText, type ClosingStrategies } from '@stocklab/platform';
import { Transform } from 'class-transformer';
import { IsEmail, IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';

export const normalizeEmail = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' ? value.normalize('NFC').trim().toLowerCase() : value;

export class SignupDto {
  @ApiProperty({ example: 'investor@example.com' })
  @Transform(normalizeEmail)
  @IsString()
  @MaxLength(254)
  @IsEmail()
  email: string;

  @ApiProperty({ minLength: 10, maxLength: 256 })
  @IsString()
  @MinLength(10)
  @MaxLength(256)
  password: string;

  @ApiProperty({ example: '가치투자자', description: '2-30 letters, digits, _ or -' })
  @Transform(normalizeText)
  @IsString()
  @Matches(/^[\p{L}\p{N}_-]{2,30}$/u, { message: 'nickname must be 2-30 letters, digits, _ or -' })
  nickname: string;
}

export class DeleteAccountDto {
  @ApiProperty()
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  password: string;

  @ApiPropertyOptional({
    enum: ['liquidate', 'stop'],
    default: 'liquidate',
    description:
      'What becomes of the auto strategies: liquidate (stop buying, sell every position at the next execute run) or stop (stop at once, positions kept)',
  })
  @IsOptional()
  @IsIn(['liquidate', 'stop'])
  strategies?: ClosingStrategies;
}
