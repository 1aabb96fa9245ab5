import { ApiProperty } from '@nestjs/swagger';

export const SIGNUP_ACCEPTED =
  'Signup accepted: if this email had no account, it has one now and you can log in with it';

/**
 * The answer to every accepted signup, whether or not the email already had an account: the same
 * body either way, so that signup does not tell anyone which emails have accounts.
 */
export class SignupAcceptedDto {
  @ApiProperty({ description: 'The email as it was normalised (trimmed, lower-cased)' }) email: string;
  @ApiProperty() nickname: string;
  @ApiProperty({ example: SIGNUP_ACCEPTED }) message: string;
}

export class MeDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() email: string;
  @ApiProperty() nickname: string;
  @ApiProperty({ type: [String] }) roles: string[];
}
