import { existsSync } from 'node:fs';
import { DotdeskService, noContainers, ContainerHooks } from './service';
import type { GatewayOptions } from '../docker/gateway';

/** How the service talks to Docker: true = use it (say "unreachable" when it does not answer), false = never, or gateway options. */
export type DockerChoice = boolean | GatewayOptions;

/** Options of createService. */
export interface CreateServiceOptions {
  /** Store directory (default DM_HOME or the per-user data dir). */
  home?: string;
  /** Docker integration; default: on when Docker is configured on this machine and DM_DOCKER is not "0". */
  docker?: DockerChoice;
}

/** True when this machine is set up for Docker (a daemon socket or DOCKER_HOST), whether or not it answers now. */
export function dockerConfigured(): boolean {
  return !!process.env.DOCKER_HOST || existsSync('/var/run/docker.sock') || existsSync('/usr/bin/docker') || existsSync('/usr/local/bin/docker');
}

/**
 * The container hooks for this machine. With Docker configured this is the DockerGateway, which
 * checks reachability on every call: when the daemon does not answer, commits are recorded as
 * taken "docker-unreachable" and checkouts switch the data and say Docker was not reachable.
 * Without Docker: noContainers (commits "direct").
 */
export function containerHooks(docker?: DockerChoice): ContainerHooks {
  if (docker === false) return noContainers;
  if (docker === undefined && (process.env.DM_DOCKER === '0' || !dockerConfigured())) return noContainers;
  // Why required here: without Docker, commands do not load the gateway and node:net.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { DockerGateway } = require('../docker/gateway') as typeof import('../docker/gateway');
  return new DockerGateway(typeof docker === 'object' ? docker : {});
}

/** Opens the store and builds the one service, with the Docker hooks plugged in. */
export async function createService(opts: CreateServiceOptions = {}): Promise<DotdeskService> {
  return DotdeskService.open(opts.home, containerHooks(opts.docker));
}
