import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Roles } from '@stocklab/platform';
import { SchedulerService, type SchedulerStatus } from './scheduler.service.js';

@ApiTags('scheduler')
@ApiBearerAuth()
@Controller('scheduler')
export class SchedulerController {
  constructor(private readonly scheduler: SchedulerService) {}

  @Get()
  @Roles('admin')
  @ApiOkResponse({ description: "leader, epoch, this replica's role, last runs, next occurrences (admins only)" })
  status(): Promise<SchedulerStatus> {
    return this.scheduler.status();
  }
}
