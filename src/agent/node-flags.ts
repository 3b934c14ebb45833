// Node/V8 flags for every place that starts the agent bundle (stemcell runit service, dummy CPI,
// bench and tests), so that the agent's idle memory is the same everywhere. All exist on Node 18
// (the stemcell's Debian nodejs) and Node 20. Measured with `npm run bench -- agent` (issue 3):
//  --max-semi-space-size=1  young generation capped at 1 MB a semi-space: the agent allocates
//                           little, and a grown new space keeps its pages resident while idle;
//  --lite-mode              no optimizing compiler: the agent is I/O-bound, and neither TurboFan's
//                           code in the node binary nor optimized code gets paged in (~3.5 MB RSS);
//  --no-expose-wasm         lite mode has no WebAssembly; saying so avoids V8's startup warning.
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--lite-mode', '--no-expose-wasm'];

// glibc malloc settings in the agent's environment (~1.3 MB less idle RSS in the bench): two arenas
// instead of one per thread, and a fixed 128 KiB mmap/trim threshold, so that large buffers freed
// after an apply go back to the system instead of raising the thresholds and staying in the heap.
export const AGENT_NODE_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072',
};
