// Child-process entry for forked stages run through tsx (stages outside the precompiled bundle, e.g.
// defined in tests or temp copies, or when the bundle could not be built): imports the source module.
import { serveJobs } from "./Worker.ts";

serveJobs((url) => import(url));
