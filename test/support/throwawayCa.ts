import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type * as tls from "node:tls"
import { serve } from "./netServer.ts"

/** Whether `openssl` runs here; suites that need a throwaway CA skip without it. */
export const hasOpenssl: boolean = spawnSync("openssl", ["version"], { stdio: "ignore" }).status === 0

/** The line a suite prints when it skips for want of `openssl`. */
export const OPENSSL_HINT = "openssl is missing: TLS suites skip; install it with `apt-get install -y openssl`"

/** A throwaway CA and a server certificate it signed, made with `openssl` in a temp dir. */
export interface ThrowawayCa {
  readonly dir: string
  /** The CA certificate, PEM. */
  readonly caPem: string
  /** The CA certificate, DER. */
  readonly caDer: Uint8Array
  /** The server's private key, PEM. */
  readonly key: string
  /** The server certificate for `localhost` / 127.0.0.1, PEM. */
  readonly cert: string
  /** Removes the temp dir. */
  readonly remove: () => void
}

/**
 * Makes a P-256 CA valid for 2 days and a server certificate with SANs `DNS:localhost` and
 * `IP:127.0.0.1`. Synchronous (call it in `beforeAll`); throws when `openssl` is missing.
 */
export const makeThrowawayCa = (): ThrowawayCa => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nexus-tls-"))
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
    remove: () => fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** A client certificate the throwaway CA signed, as PEM and as a passphrase-protected PKCS#12 bundle. */
export interface ClientCertificate {
  /** The client certificate (CN `nexus test client`), PEM. */
  readonly cert: string
  /** Its private key, PEM, unencrypted. */
  readonly key: string
  /** The same certificate and key as PKCS#12, encrypted with `passphrase`. */
  readonly pfx: Uint8Array
  readonly passphrase: string
}

/**
 * Makes a client certificate signed by `ca` (extended key usage `clientAuth`) in `ca.dir`.
 * Synchronous; throws when `openssl` is missing.
 */
export const makeClientCertificate = (ca: ThrowawayCa, passphrase = "correct horse"): ClientCertificate => {
  const run = (...args: Array<string>) => execFileSync("openssl", args, { cwd: ca.dir, stdio: "pipe" })
  run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "client.key",
    "-out", "client.csr", "-subj", "/CN=nexus test client")
  fs.writeFileSync(path.join(ca.dir, "client.cnf"), "extendedKeyUsage=clientAuth\n")
  run("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
    "-out", "client.pem", "-days", "2", "-extfile", "client.cnf")
  run("pkcs12", "-export", "-in", "client.pem", "-inkey", "client.key", "-out", "client.p12",
    "-passout", `pass:${passphrase}`)
  return {
    cert: fs.readFileSync(path.join(ca.dir, "client.pem"), "latin1"),
    key: fs.readFileSync(path.join(ca.dir, "client.key"), "latin1"),
    pfx: fs.readFileSync(path.join(ca.dir, "client.p12")),
    passphrase
  }
}

/**
 * A node:tls echo server on 127.0.0.1 for the test's scope, with `ca`'s server certificate,
 * that requires a client certificate chaining to `ca`; `options` override its TLS options
 * (e.g. `maxVersion`).
 */
export const mtlsEchoServer = (ca: ThrowawayCa, options: tls.TlsOptions = {}) =>
  serve((socket) => {
    socket.on("data", (chunk) => socket.write(chunk))
    socket.on("end", () => socket.end())
  }, { tls: { key: ca.key, cert: ca.cert, ca: [ca.caPem], requestCert: true, rejectUnauthorized: true, ...options } })
