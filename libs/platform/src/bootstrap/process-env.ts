/**
 * Environment every service process is started with (the image's ENV, the local launcher, the
 * benchmarks' fresh processes). glibc reads it at exec, so a process cannot set it for itself.
 *
 * `glibc.malloc.hugetlb=1`: glibc advises transparent huge pages (madvise(MADV_HUGEPAGE)) on the
 * memory it maps for large allocations, which is where V8 puts ArrayBuffers. A process loading the
 * market fills hundreds of MiB of fresh columns: with 4 KiB pages that is one page fault per
 * 4 KiB (about 86,000 for the 2,500 x 10 y market, 1.3 s on these VMs), with 2 MiB pages a few
 * hundred. It needs the node's THP mode to be `madvise` or `always` (not `never`); elsewhere it
 * changes nothing. Measured by services/backtest/bench/market-snapshot.ts (with and without).
 */
export const SERVICE_PROCESS_ENV: Readonly<Record<string, string>> = {
  GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1',
};
