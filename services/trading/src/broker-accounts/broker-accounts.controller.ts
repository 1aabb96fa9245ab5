import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthenticatedUser } from '@stocklab/platform';
import { BrokerAccountsService } from './broker-accounts.service.js';
import { BrokerAccountDto, BrokerAccountIdParamDto, LinkBrokerAccountDto } from './dto/broker-account.dto.js';

@ApiTags('broker-accounts')
@ApiBearerAuth()
@Controller('broker-accounts')
export class BrokerAccountsController {
  constructor(private readonly accounts: BrokerAccountsService) {}

  @Post()
  @ApiCreatedResponse({
    type: BrokerAccountDto,
    description:
      'checked with the broker first (a token issued, the account read): 422 BROKER_CREDENTIALS_REFUSED or BROKER_ACCOUNT_MISMATCH, 503 BROKER_UNAVAILABLE; the credentials are sealed and never shown again',
  })
  link(@CurrentUser() user: AuthenticatedUser, @Body() dto: LinkBrokerAccountDto): Promise<BrokerAccountDto> {
    return this.accounts.link(user.id, dto);
  }

  @Get()
  @ApiOkResponse({ type: [BrokerAccountDto] })
  list(@CurrentUser() user: AuthenticatedUser): Promise<BrokerAccountDto[]> {
    return this.accounts.list(user.id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'unlinked; the sealed credentials are erased' })
  unlink(@CurrentUser() user: AuthenticatedUser, @Param() p: BrokerAccountIdParamDto): Promise<void> {
    return this.accounts.unlink(user.id, p.id);
  }
}
