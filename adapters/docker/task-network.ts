// A task's own bridge network (the taskcluster proxy listens on its gateway address): created
// for one run, labelled as this worker's so that a host killed mid-task clears it at its next
// start, removed with the task's resources. The engine picks the subnet from its address pools.
import { randomBytes } from 'node:crypto';
import { LABELS } from '../../functions/container-spec.ts';
import { DwError, messageOf, statusOf } from '../../functions/errors.ts';
import type { TaskNetwork, TaskNetworks } from '../../functions/steps/taskcluster-proxy.ts';
import type { Claimed } from '../../functions/types.ts';
import { type DockerClient, dockerClient } from './client.ts';

export class DockerTaskNetworks implements TaskNetworks {
  readonly #docker: DockerClient;
  readonly #workerId: string;

  constructor(workerId: string, docker: DockerClient = dockerClient()) {
    this.#docker = docker;
    this.#workerId = workerId;
  }

  async create(claimed: Claimed): Promise<TaskNetwork> {
    const name = `dw-${claimed.taskId}-${claimed.runId}-${randomBytes(3).toString('hex')}`;
    let id: string;
    try {
      const network = await this.#docker.createNetwork({
        Name: name,
        Driver: 'bridge',
        CheckDuplicate: true,
        Labels: {
          [LABELS.managedBy]: '1',
          [LABELS.taskId]: claimed.taskId,
          [LABELS.runId]: String(claimed.runId),
          [LABELS.workerId]: this.#workerId,
        },
      });
      id = network.id;
    } catch (error) {
      throw await this.#failure(`the task's network could not be created`, error);
    }
    try {
      const info = await this.#docker.getNetwork(id).inspect();
      const config = info.IPAM?.Config?.find((c) => c.Subnet?.includes('.'));
      if (!config?.Subnet || !config.Gateway) throw new Error(`the engine gave network ${name} no IPv4 subnet`);
      return { id, name, subnet: config.Subnet, gateway: config.Gateway };
    } catch (error) {
      await this.remove({ id, name, subnet: '', gateway: '' });
      throw await this.#failure(`the task's network could not be inspected`, error);
    }
  }

  async remove(network: TaskNetwork): Promise<void> {
    try {
      await this.#docker.getNetwork(network.id).remove();
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  /** The networks a killed predecessor of this worker left (their containers are gone first). */
  async removeNetworksOf(workerId: string): Promise<number> {
    const networks = await this.#docker.listNetworks({ filters: { label: [`${LABELS.workerId}=${workerId}`] } });
    for (const network of networks) await this.remove({ id: network.Id, name: network.Name, subnet: '', gateway: '' });
    return networks.length;
  }

  /** An engine that does not answer is DW_ENGINE_FAILED (the task is retried elsewhere); a refusal
   * (address pools exhausted) stays the task's setup failure, with the engine's words. */
  async #failure(what: string, error: unknown): Promise<unknown> {
    const answers = await this.#docker.ping().then(
      () => true,
      () => false,
    );
    if (answers) return new Error(`${what}: ${messageOf(error)}`, { cause: error });
    return new DwError('DW_ENGINE_FAILED', `${what}: ${messageOf(error)}`, { cause: error });
  }
}
