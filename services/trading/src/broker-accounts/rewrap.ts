import type { DataSource } from 'typeorm';
import type { CredentialSealer, Sealed } from './credential-sealer.js';

const BATCH = 100;

/**
 * Key rotation: every linked account whose data key is wrapped by another KEK than the active
 * one gets it re-wrapped by the active one, a batch per transaction (rows taken with SKIP LOCKED,
 * so that two runs side by side do not collide). The credentials' ciphertext is untouched. Once
 * it answered, the old KEK can leave BROKER_CREDENTIALS_KEYS. Answers how many were re-wrapped.
 */
export async function rewrapCredentials(dataSource: DataSource, sealer: CredentialSealer): Promise<number> {
  let total = 0;
  for (;;) {
    const done = await dataSource.transaction(async (m) => {
      const rows = await m.query<Array<{ id: string; credentials: Sealed }>>(
        `SELECT id, credentials FROM trading.broker_accounts WHERE kek_id <> $1 ORDER BY id LIMIT ${BATCH}
           FOR UPDATE SKIP LOCKED`,
        [sealer.activeKeyId],
      );
      for (const row of rows) {
        const next = sealer.rewrap(row.credentials);
        await m.query(`UPDATE trading.broker_accounts SET credentials = $2, kek_id = $3 WHERE id = $1`, [
          row.id,
          JSON.stringify(next),
          next.kek,
        ]);
      }
      return rows.length;
    });
    total += done;
    if (done < BATCH) {
      return total;
    }
  }
}
