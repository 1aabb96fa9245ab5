import { BrokerAccountsController } from './broker-accounts/broker-accounts.controller.js';
import { BrokerAccountsService } from './broker-accounts/broker-accounts.service.js';
import { TradingAccountEvents } from './auto-strategies/account-events.consumer.js';
import { Module, type DynamicModule } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { PlatformModule } from '@stocklab/platform';
import { AutoStrategiesController } from './auto-strategies/auto-strategies.controller.js';
import { AutoStrategiesService } from './auto-strategies/auto-strategies.service.js';
import { BacktestClient } from './auto-strategies/backtest-client.js';
import { BROKER } from './broker/broker.js';
import { PaperBroker } from './broker/paper-broker.js';
import { CalendarController } from './calendar/calendar.controller.js';
import { CalendarService } from './calendar/calendar.service.js';
import type { TradingConfig } from './config.js';
import { tradingDataSourceOptions } from './data-source.js';
import { FencingService } from './fencing/fencing.service.js';
import { ExecuteJob } from './jobs/execute.job.js';
import { OrderBook } from './jobs/order-book.js';
import { ReconcileJob } from './jobs/reconcile.job.js';
import { IngestJob } from './jobs/ingest.job.js';
import { OrderReviewController } from './orders/order-review.controller.js';
import { KiwoomOrders } from './broker/kiwoom-orders.js';
import { JobRunner } from './jobs/job-runner.service.js';
import { JobRunsService } from './jobs/job-runs.service.js';
import { JobTriggerService } from './jobs/job-trigger.service.js';
import { JobsController } from './jobs/jobs.controller.js';
import { SelectJob } from './jobs/select.job.js';
import { MarketDataService } from './market/market-data.service.js';
import { TradingMetrics } from './metrics/trading-metrics.js';
import { MarketFreshnessMetrics } from './metrics/market-freshness-metrics.js';
import { AccountsService } from './portfolio/accounts.service.js';
import { PortfolioController } from './portfolio/portfolio.controller.js';
import { PortfolioService } from './portfolio/portfolio.service.js';
import { SchedulerController } from './scheduler/scheduler.controller.js';
import { SchedulerService } from './scheduler/scheduler.service.js';
import { TradingClock } from './scheduler/trading-clock.js';

@Module({})
export class AppModule {
  static register(config: TradingConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({
          service: 'trading',
          config,
          dataSource: tradingDataSourceOptions(config),
          // the trading service only verifies tokens; auth's longest access token lifetime
          maxAccessTokenLifetimeSeconds: 86400,
        }),
        ScheduleModule.forRoot(),
      ],
      controllers: [
        BrokerAccountsController,
        SchedulerController,
        JobsController,
        AutoStrategiesController,
        PortfolioController,
        CalendarController,
        OrderReviewController,
      ],
      providers: [
        TradingMetrics,
        MarketFreshnessMetrics,
        TradingClock,
        FencingService,
        CalendarService,
        MarketDataService,
        PaperBroker,
        { provide: BROKER, useExisting: PaperBroker },
        AccountsService,
        BacktestClient,
        AutoStrategiesService,
        BrokerAccountsService,
        TradingAccountEvents,
        PortfolioService,
        JobRunsService,
        SelectJob,
        ExecuteJob,
        OrderBook,
        KiwoomOrders,
        ReconcileJob,
        IngestJob,
        JobRunner,
        JobTriggerService,
        SchedulerService,
      ],
    };
  }
}
