// Property tests give the same verdict on every run: fast-check draws from one fixed seed
// unless FC_SEED asks for another, and FC_RUNS deepens every property for a local hunt
// (`FC_RUNS=20000 FC_SEED=7 npm run test:unit -- spec/session-model.spec.ts`). A failure
// prints its seed and path; the counterexample then becomes an explicit case beside the property.
import fc from 'fast-check';

/** The seed every property of this run draws from. */
export const propertySeed = Number.parseInt(process.env.FC_SEED ?? '20261201', 10);

fc.configureGlobal({ seed: propertySeed });

/** fast-check parameters: `numRuns` scenarios by default, FC_RUNS when set. */
export function runs(numRuns: number): { numRuns: number; seed: number } {
  const override = process.env.FC_RUNS === undefined ? undefined : Number.parseInt(process.env.FC_RUNS, 10);
  return { numRuns: override !== undefined && override > 0 ? override : numRuns, seed: propertySeed };
}

/** A seeded generator (mulberry32), so a failing random schedule can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
