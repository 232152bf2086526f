import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lifecycle } from '../../host/lifecycle.ts';

function recorder() {
  const actions: string[] = [];
  return {
    actions,
    bound: { stopClaiming: () => actions.push('stop claiming'), abortTasks: () => actions.push('abort tasks') },
  };
}

test('starting → claiming → draining → stopped, forward only; the first request says why and the exit status', () => {
  const lifecycle = new Lifecycle({ graceMs: 60_000 });
  const states: string[] = [];
  lifecycle.onChange((state) => states.push(state));
  const { actions, bound } = recorder();
  assert.equal(lifecycle.state, 'starting');
  lifecycle.claiming(bound);
  assert.equal(lifecycle.requestStop({ reason: 'credentials-refused', tasks: 'finish' }), true);
  assert.equal(lifecycle.requestStop({ reason: 'idle', tasks: 'finish' }), false, 'no gentler or equal request');
  assert.deepEqual(actions, ['stop claiming'], 'finish: tasks are left to end by themselves');
  lifecycle.stopped();
  assert.equal(lifecycle.requestStop({ reason: 'signal', tasks: 'now' }), false, 'nothing after stopped');
  assert.deepEqual(states, ['claiming', 'draining', 'stopped']);
  assert.equal(lifecycle.stopRequest?.reason, 'credentials-refused');
  assert.equal(lifecycle.exitCode, 1);
});

test('a harsher request escalates a stop: finish → now aborts the tasks at once', () => {
  const lifecycle = new Lifecycle({ graceMs: 60_000 });
  const { actions, bound } = recorder();
  lifecycle.claiming(bound);
  lifecycle.requestStop({ reason: 'graceful-termination', tasks: 'finish' });
  assert.equal(lifecycle.requestStop({ reason: 'graceful-termination', tasks: 'now' }), true);
  assert.deepEqual(actions, ['stop claiming', 'stop claiming', 'abort tasks']);
  assert.equal(lifecycle.stopRequest?.reason, 'graceful-termination', 'the first request still says why');
  assert.equal(lifecycle.exitCode, 0);
  lifecycle.stopped();
});

test('grace: the tasks are aborted when the grace period ends', async () => {
  const lifecycle = new Lifecycle({ graceMs: 20 });
  const aborted = Promise.withResolvers<void>();
  lifecycle.claiming({ stopClaiming: () => {}, abortTasks: () => aborted.resolve() });
  lifecycle.requestStop({ reason: 'signal', tasks: 'grace' });
  await aborted.promise;
  lifecycle.stopped();
});

test('a stop requested while starting takes effect once claiming would begin', () => {
  const lifecycle = new Lifecycle({ graceMs: 60_000 });
  const { actions, bound } = recorder();
  lifecycle.requestStop({ reason: 'signal', tasks: 'now' });
  assert.equal(lifecycle.state, 'draining');
  assert.deepEqual(actions, [], 'nothing to stop yet');
  lifecycle.claiming(bound);
  assert.deepEqual(actions, ['stop claiming', 'abort tasks']);
  assert.equal(lifecycle.state, 'draining');
  lifecycle.stopped();
});
