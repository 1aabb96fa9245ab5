import { ConfigError } from '../config/config-schema.js';
import type { CommonConfig } from '../config/platform-config.js';
import { defaultDevKeysFile, loadOrCreateDevKeyPair, type SigningKeyPair } from './signing-keys.js';

/** The public keys tokens are verified with: configured, or outside production the shared dev pair. */
export function resolvePublicKeys(config: CommonConfig): string[] {
  if (config.JWT_PUBLIC_KEYS) {
    return config.JWT_PUBLIC_KEYS;
  }
  return [devKeyPairOrFail(config, 'JWT_PUBLIC_KEYS').publicKeyPem];
}

export function devKeyPairOrFail(config: CommonConfig, variable: string): SigningKeyPair {
  if (config.NODE_ENV === 'production') {
    throw new ConfigError(variable, 'is required when NODE_ENV=production');
  }
  return loadOrCreateDevKeyPair(config.DEV_KEYS_FILE ?? defaultDevKeysFile());
}
