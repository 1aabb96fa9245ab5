import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthenticatedUser } from '@stocklab/platform';
import { BrokerAccountsService } from './broker-accounts.service.js';
import {
  BrokerAccountDto,
  BrokerAccountIdParamDto,
  LinkBrokerAccountDto,
  ReconciliationDto,
} from './dto/broker-account.dto.js';

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

  @Get(':id/reconciliations')
  @ApiOkResponse({
    type: [ReconciliationDto],
    description: "the day-end comparisons with the broker's balance (15:40), newest first, the last 60",
  })
  reconciliations(
    @CurrentUser() user: AuthenticatedUser,
    @Param() p: BrokerAccountIdParamDto,
  ): Promise<ReconciliationDto[]> {
    return this.accounts.reconciliations(user.id, p.id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({
    description:
      'unlinked; the sealed credentials are erased. 409 BROKER_ACCOUNT_IN_USE while a strategy trades there (or still has orders or positions there)',
  })
  unlink(@CurrentUser() user: AuthenticatedUser, @Param() p: BrokerAccountIdParamDto): Promise<void> {
    return this.accounts.unlink(user.id, p.id);
  }
}
