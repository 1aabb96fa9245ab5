import { Body, Controller, Delete, Get, HttpCode, Post, Req } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import { CurrentUser, Public, type AuthenticatedUser } from '@stocklab/platform';
import type { Request } from 'express';
import { AccountsService } from './accounts.service.js';
import { DeleteAccountDto, SignupDto } from './dto/signup.dto.js';
import { MeDto, SignupAcceptedDto } from './dto/user.dto.js';

@ApiTags('accounts')
@Controller()
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Public()
  @Post('signup')
  @HttpCode(202)
  @ApiAcceptedResponse({
    type: SignupAcceptedDto,
    description: 'the same answer whether or not the email already had an account',
  })
  @ApiConflictResponse({ description: 'NICKNAME_TAKEN' })
  @ApiTooManyRequestsResponse({ description: 'TOO_MANY_SIGNUPS from this client address' })
  signup(@Body() dto: SignupDto, @Req() req: Request): Promise<SignupAcceptedDto> {
    return this.accounts.signup(dto, req.ip ?? 'unknown');
  }

  @ApiBearerAuth()
  @Get('me')
  @ApiOkResponse({ type: MeDto })
  me(@CurrentUser() user: AuthenticatedUser): Promise<MeDto> {
    return this.accounts.me(user.id);
  }

  @ApiBearerAuth()
  @Delete('me')
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiTooManyRequestsResponse({ description: 'too many wrong passwords for this account or address' })
  deactivate(
    @CurrentUser() user: AuthenticatedUser,
    @Body() dto: DeleteAccountDto,
    @Req() req: Request,
  ): Promise<void> {
    return this.accounts.deactivate(user.id, dto, req.ip ?? 'unknown');
  }
}
