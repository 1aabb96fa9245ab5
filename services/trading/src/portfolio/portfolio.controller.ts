import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthenticatedUser } from '@stocklab/platform';
import { PortfolioDto } from './portfolio.dto.js';
import { PortfolioService } from './portfolio.service.js';

@ApiTags('portfolio')
@ApiBearerAuth()
@Controller('portfolio')
export class PortfolioController {
  constructor(private readonly portfolio: PortfolioService) {}

  @Get()
  @ApiOkResponse({ type: PortfolioDto })
  get(@CurrentUser() user: AuthenticatedUser): Promise<PortfolioDto> {
    return this.portfolio.portfolio(user.id);
  }
}
