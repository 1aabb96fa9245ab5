import 'reflect-metadata';
import { loadConfigOrExit } from '@stocklab/platform';
import { DataSource } from 'typeorm';
import { sealerOf } from '../broker-accounts/broker-accounts.service.js';
import { rewrapCredentials } from '../broker-accounts/rewrap.js';
import { tradingConfigSchema } from '../config.js';
import { tradingDataSourceOptions } from '../data-source.js';

/**
 * `npm run rewrap-credentials -w @stocklab/trading` (with the trading service's environment):
 * after BROKER_CREDENTIALS_ACTIVE_KEY names a new key, re-wraps every stored data key with it.
 */
const config = loadConfigOrExit(tradingConfigSchema);
const sealer = sealerOf(config);
if (!sealer) {
  process.stderr.write('BROKER_CREDENTIALS_KEYS is not set: there is nothing to re-wrap with\n');
  process.exit(2);
}
const dataSource = await new DataSource(tradingDataSourceOptions(config)).initialize();
try {
  const count = await rewrapCredentials(dataSource, sealer);
  process.stdout.write(
    `${JSON.stringify({ service: 'trading', msg: 'credentials re-wrapped', count, key: sealer.activeKeyId })}\n`,
  );
} finally {
  await dataSource.destroy();
}
