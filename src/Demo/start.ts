/**
 * `npm start`: the main job — the demo exchange and the sample strategy (see `Main.ts`). Runs
 * 20 s by default (`DEMO_SECONDS` overrides); Ctrl-C ends it cleanly.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Main from "./Main.ts"

NodeRuntime.runMain(Main.run({ durationSeconds: Number(process.env.DEMO_SECONDS ?? 20) }))
