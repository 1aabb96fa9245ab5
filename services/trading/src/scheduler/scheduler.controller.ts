import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { SchedulerService, type SchedulerStatus } from './scheduler.service.js';

@ApiTags('scheduler')
@ApiBearerAuth()
@Controller('scheduler')
export class SchedulerController {
  constructor(private readonly scheduler: SchedulerService) {}

  @Get()
  @ApiOkResponse({ description: "leader, epoch, this replica's role, last runs, next occurrences" })
  status(): Promise<SchedulerStatus> {
    return this.scheduler.status();
  }
}
