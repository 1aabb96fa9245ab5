// Every TypeORM entity of the service, registered once (features add theirs here).
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const BACKTEST_ENTITIES: Function[] = [];
