/**
 * nginx (Debian) as a real peer from its own prefix directory: the boilerplate of a config that
 * keeps every file in `dir`, and a start that waits for its ports and stops by pid (PEERS.md).
 */
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { executable, type Peer, startPeer } from "./peers.ts"

/** The nginx binary the suites run. */
export const NGINX = "/usr/sbin/nginx"

/** Whether nginx and openssl (for its throwaway certificates) are installed. */
export const nginxAvailable: boolean = executable(NGINX) && executable("/usr/bin/openssl")

/**
 * {@link nginxAvailable}; when not, says on stderr that `suite` (or its nginx cases) is skipped
 * and how to install nginx and openssl.
 */
export const nginxAvailableFor = (suite: string): boolean => {
  if (!nginxAvailable) {
    console.warn(`${suite}: skipped — nginx or openssl missing; install with \`apt-get install -y nginx openssl\` (.ci/run does)`)
  }
  return nginxAvailable
}

/**
 * A config whose pid, logs and temp paths live in `dir`, around `servers`: the `server { }`
 * blocks and any other `http`-level directives (keepalive, gzip). `defaultType` is nginx's
 * `default_type` (here rather than in `servers`, which may not set it twice).
 */
export const nginxConfig = (dir: string, servers: string, defaultType = "text/plain"): string => `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  default_type ${defaultType};
${servers}
}
`

/** Writes `config` to `dir/nginx.conf` and starts nginx in the foreground, waiting for `ports`. */
export const startNginx = (dir: string, config: string, ports: ReadonlyArray<number>): Promise<Peer> => {
  // nginx's workers may run as another user (nobody / www-data): let them reach the files
  fs.chmodSync(dir, 0o711)
  fs.writeFileSync(path.join(dir, "nginx.conf"), config)
  return startPeer({ command: NGINX, args: ["-p", dir, "-c", path.join(dir, "nginx.conf"), "-g", "daemon off;"], ports })
}

/**
 * nginx's own count of accepted connections, read from a `location = /status { stub_status; }`
 * on plain `port` over a throwaway node:http connection (so it counts itself too).
 */
export const nginxAccepts = (port: number): Promise<number> =>
  new Promise<number>((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path: "/status", agent: false }, (res) => {
      let text = ""
      res.on("data", (chunk: Buffer) => (text += chunk.toString()))
      res.on("end", () => resolve(Number(/\n\s*(\d+)\s+\d+\s+\d+/.exec(text)![1])))
    }).on("error", reject)
  })
