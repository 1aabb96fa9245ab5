import { Module, type DynamicModule } from '@nestjs/common';
import { PlatformModule } from '@stocklab/platform';
import { AccountsController } from './accounts/accounts.controller.js';
import { AccountsService } from './accounts/accounts.service.js';
import type { AuthConfig } from './config.js';
import { authDataSourceOptions } from './data-source.js';
import { JwksController } from './keys/jwks.controller.js';
import { SessionsController } from './sessions/sessions.controller.js';
import { SessionsService } from './sessions/sessions.service.js';
import type { TokenIssuer } from './tokens/token-issuer.js';
import { TokensModule } from './tokens/tokens.module.js';

@Module({})
export class AppModule {
  static register(config: AuthConfig, issuer: TokenIssuer): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({
          service: 'auth',
          config,
          dataSource: authDataSourceOptions(config),
          maxAccessTokenLifetimeSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
        }),
        TokensModule.register(issuer),
      ],
      controllers: [AccountsController, SessionsController, JwksController],
      providers: [AccountsService, SessionsService],
    };
  }
}
