/**
 * A throwaway CA and a server certificate for `localhost` / `127.0.0.1`, made with `openssl` in
 * a fresh temp directory at test time. Shared by the TLS transport tests and the real-peer HTTP
 * suites (nginx reads `serverCertPath` / `serverKeyPath`).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** The files and PEM texts of one throwaway CA. */
export interface TestCa {
  readonly dir: string
  readonly caPem: string
  readonly caDer: Uint8Array
  readonly key: string
  readonly cert: string
  readonly serverCertPath: string
  readonly serverKeyPath: string
  /** Removes the directory. */
  readonly remove: () => void
}

/** Makes a P-256 CA and a server certificate (SAN `DNS:localhost`, `IP:127.0.0.1`) valid for two days. */
export const makeTestCa = (prefix = "nexus-ca-"): TestCa => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  const run = (...args: Array<string>) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" })
  run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
    "-out", "ca.pem", "-days", "2", "-subj", "/CN=nexus test CA")
  run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key",
    "-out", "server.csr", "-subj", "/CN=localhost")
  fs.writeFileSync(path.join(dir, "ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
  run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
    "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
  run("x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der")
  return {
    dir,
    caPem: fs.readFileSync(path.join(dir, "ca.pem"), "latin1"),
    caDer: fs.readFileSync(path.join(dir, "ca.der")),
    key: fs.readFileSync(path.join(dir, "server.key"), "latin1"),
    cert: fs.readFileSync(path.join(dir, "server.pem"), "latin1"),
    serverCertPath: path.join(dir, "server.pem"),
    serverKeyPath: path.join(dir, "server.key"),
    remove: () => fs.rmSync(dir, { recursive: true, force: true })
  }
}
