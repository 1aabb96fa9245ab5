import { Body, Controller, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiTags } from '@nestjs/swagger';
import { DomainError, Roles } from '@stocklab/platform';
import { DataSource } from 'typeorm';
import { strategyLog } from '../jobs/job-context.js';
import { ClientOrderIdParamDto, SettleReviewDto } from './dto/review.dto.js';

const PG_UNIQUE_VIOLATION = '23505';

/**
 * Where a person settles an order the broker's lists could not (`needs_review`): after looking at
 * the account, an operator adopts the broker order that is the intent's, or declares that there is
 * none. Jobs never touch an intent in review, so this write needs no fencing: it only moves an
 * intent out of `needs_review`, once.
 */
@ApiTags('orders')
@ApiBearerAuth()
@Controller('orders')
export class OrderReviewController {
  constructor(private readonly dataSource: DataSource) {}

  @Roles('admin')
  @Post(':clientOrderId/review')
  @ApiCreatedResponse({
    description:
      'settled: 404 ORDER_NOT_FOUND, 409 NOT_IN_REVIEW (already settled), 409 BROKER_ORDER_BOUND (another intent owns that order number), 400 with adopt but no brokerOrderId',
  })
  async settle(
    @Param() p: ClientOrderIdParamDto,
    @Body() body: SettleReviewDto,
  ): Promise<{ clientOrderId: string; status: string }> {
    if (body.resolution === 'adopt' && !body.brokerOrderId) {
      throw new DomainError(400, 'VALIDATION_FAILED', 'adopt needs the brokerOrderId');
    }
    return this.dataSource.transaction(async (m) => {
      const found: Array<{ id: string; status: string; auto_strategy_id: string; run_key: string }> = await m.query(
        `SELECT id, status, auto_strategy_id, run_key FROM trading.order_intents WHERE client_order_id = $1 FOR UPDATE`,
        [p.clientOrderId],
      );
      const intent = found[0];
      if (!intent) {
        throw new DomainError(404, 'ORDER_NOT_FOUND', `order ${p.clientOrderId} not found`);
      }
      if (intent.status !== 'needs_review') {
        throw new DomainError(409, 'NOT_IN_REVIEW', `order ${p.clientOrderId} is ${intent.status}, not in review`);
      }
      const status = body.resolution === 'adopt' ? 'accepted' : 'expired';
      try {
        await m.query(
          `UPDATE trading.order_intents
              SET status = $2, broker_order_id = $3, completed_at = CASE WHEN $2 = 'expired' THEN now() END,
                  reject_reason = CASE WHEN $2 = 'expired' THEN 'a person found no order of it at the broker' END
            WHERE id = $1 AND status = 'needs_review'`,
          [intent.id, status, body.resolution === 'adopt' ? body.brokerOrderId : null],
        );
      } catch (error) {
        if ((error as { code?: string }).code === PG_UNIQUE_VIOLATION) {
          throw new DomainError(
            409,
            'BROKER_ORDER_BOUND',
            `order number ${body.brokerOrderId} belongs to another order`,
          );
        }
        throw error;
      }
      await strategyLog(
        m,
        intent.auto_strategy_id,
        intent.run_key,
        'warn',
        body.resolution === 'adopt'
          ? `review settled by a person: broker order ${body.brokerOrderId} adopted`
          : 'review settled by a person: no order of it at the broker, it ended expired',
      );
      return { clientOrderId: p.clientOrderId, status };
    });
  }
}
