// Batch-job entry for stages run through tsx (stages outside the precompiled bundle, e.g. defined in
// tests): `node --import tsx engine/slurmWorkerMain.ts <staging>/job.json`. See Staging.ts.
import { runStagedJob } from "./Staging.ts";

process.exitCode = await runStagedJob((url) => import(url), process.argv[2]!);
