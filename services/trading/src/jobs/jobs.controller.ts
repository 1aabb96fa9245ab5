import { Body, Controller, Param, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AnyRole } from '@stocklab/platform';
import type { Response } from 'express';
import { JobParamDto, JobRunDto, TriggerRunDto } from './dto/trigger-run.dto.js';
import { JobTriggerService } from './job-trigger.service.js';

/**
 * The role of an account that may only trigger the trading jobs (a Kubernetes CronJob's: the
 * trading-cronjob component), where an admin may too.
 */
export const TRADING_JOBS_ROLE = 'trading-jobs';

@ApiTags('scheduler')
@ApiBearerAuth()
@Controller('jobs')
export class JobsController {
  constructor(private readonly trigger: JobTriggerService) {}

  /** What a Kubernetes CronJob may call instead of the in-process cron: idempotent per occurrence. */
  @AnyRole('admin', TRADING_JOBS_ROLE)
  @Post(':job/runs')
  @ApiCreatedResponse({ type: JobRunDto, description: 'this call ran (or resumed) the occurrence' })
  @ApiOkResponse({ type: JobRunDto, description: 'the occurrence already ran or is running: its run' })
  async run(
    @Param() params: JobParamDto,
    @Body() body: TriggerRunDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<JobRunDto> {
    const outcome = await this.trigger.trigger(params.job, body.date, body.retryFailed === true);
    res.status(outcome.ran ? 201 : 200);
    return outcome.run;
  }
}
