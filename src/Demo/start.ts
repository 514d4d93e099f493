/**
 * `npm start`: the main job — the demo exchange and the sample strategy (see `Main.ts`). Runs
 * 20 s by default (`DEMO_SECONDS` overrides); Ctrl-C ends it cleanly. `npm start -- --record FILE`
 * records the session the strategy saw into FILE (replay it with `effect-nexus replay FILE`, or
 * with `MarketFeed.layerReplay` and `RestClient.layerReplay`).
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Main from "./Main.ts"

const recordAt = process.argv.indexOf("--record")
const record = recordAt === -1 ? undefined : process.argv[recordAt + 1]
if (recordAt !== -1 && (record === undefined || record.startsWith("--"))) {
  process.stderr.write("npm start: --record needs a file name: npm start -- --record session.nxs\n")
  process.exit(2)
}

NodeRuntime.runMain(Main.run({ durationSeconds: Number(process.env.DEMO_SECONDS ?? 20), record }))
