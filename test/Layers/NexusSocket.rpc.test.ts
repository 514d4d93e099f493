import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Rpc from "effect/rpc/Rpc"
import * as RpcClient from "effect/rpc/RpcClient"
import * as RpcGroup from "effect/rpc/RpcGroup"
import * as RpcSerialization from "effect/rpc/RpcSerialization"
import * as RpcServer from "effect/rpc/RpcServer"
import * as Schema from "effect/Schema"
import * as SocketServer from "effect/socket/SocketServer"
import * as Stream from "effect/Stream"
import * as NexusSocket from "../../src/Layers/NexusSocket.ts"

/** A request/response call and a streaming one. */
class Calc extends RpcGroup.make(
  Rpc.make("Add", { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number }),
  Rpc.make("Count", { payload: { to: Schema.Number }, success: Schema.Number, stream: true })
) {}

const handlers = Calc.toLayer({
  Add: ({ a, b }) => Effect.succeed(a + b),
  Count: ({ to }) => Stream.range(1, to)
})

describe("Effect RPC over NexusSocket", () => {
  it.live("an RpcClient on NexusSocket.layerWebSocket calls an Effect RpcServer over WebSocket, unchanged", () =>
    Effect.gen(function*() {
      // Effect's own RPC server on Effect's own WebSocket server (ws), on an ephemeral port
      const sockets = yield* Layer.build(NodeSocketServer.layerWebSocket({ host: "127.0.0.1", port: 0 }))
      const address = Context.get(sockets, SocketServer.SocketServer).address
      assert.strictEqual(address._tag, "InetAddressV4")
      const port = address._tag === "InetAddressV4" ? address.port : 0
      yield* Layer.build(
        RpcServer.layer(Calc).pipe(
          Layer.provide(handlers),
          Layer.provide(RpcServer.layerProtocolSocketServer),
          Layer.provide(RpcSerialization.layerNdjson),
          Layer.provide(Layer.succeedContext(sockets))
        )
      )
      // the client: only the Socket layer is ours
      const protocol = RpcClient.layerProtocolSocket().pipe(
        Layer.provide(NexusSocket.layerWebSocket(`ws://127.0.0.1:${port}`)),
        Layer.provide(RpcSerialization.layerNdjson)
      )
      // built in the test's scope: `Effect.provide` would close the protocol once `make` returned
      const client = yield* Effect.provide(RpcClient.make(Calc), Layer.succeedContext(yield* Layer.build(protocol)))
      assert.strictEqual(yield* client.Add({ a: 40, b: 2 }), 42)
      const counted = yield* Stream.runCollect(client.Count({ to: 1000 }))
      assert.deepStrictEqual(counted, Array.from({ length: 1000 }, (_, i) => i + 1))
      const many = yield* Effect.forEach(Array.from({ length: 200 }, (_, i) => i), (i) => client.Add({ a: i, b: i }), {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(many, Array.from({ length: 200 }, (_, i) => 2 * i))
    }).pipe(Effect.scoped))
})
