// One Pulse session: a connection, one channel, the queue declared and bound, one consumer.
// `ended` settles at the first sign that hints may no longer arrive: the connection closing or
// failing, the channel closing or failing, or the broker cancelling the consumer (its queue was
// deleted, its node restarted; amqplib then calls the consume callback with null). The
// connection can stay up through all but the first, so none of them may be ignored.
import amqplib from 'amqplib';

export class PulseLinkLost extends Error {
  readonly code = 'DW_PULSE_LINK_LOST';
  constructor(message: string, cause?: unknown) {
    super(cause instanceof Error ? `${message}: ${cause.message}` : message, { cause });
    this.name = 'PulseLinkLost';
  }
}

export interface SessionSubscription {
  readonly url: string;
  readonly queue: string;
  readonly bindings: ReadonlyArray<{ readonly exchange: string; readonly routingKey: string }>;
  /** Each delivered message, already acknowledged (they are hints: losing one is harmless). */
  onMessage(message: amqplib.ConsumeMessage): void;
  onWarning(message: string, error?: unknown): void;
}

export interface PulseSession {
  /** Settles once, with the first reason the session stopped delivering. */
  readonly ended: Promise<PulseLinkLost>;
  /** Closes whatever is still open; never throws (a failure goes to onWarning). */
  close(): Promise<void>;
}

/** Connects and subscribes; throws when that fails (the connection is closed again first). */
export async function openSession(subscription: SessionSubscription): Promise<PulseSession> {
  // A broker that accepts the socket but never completes the handshake must not hang the loop.
  const connection = await amqplib.connect(subscription.url, { timeout: 10_000 });
  const { promise: ended, resolve: end } = Promise.withResolvers<PulseLinkLost>();
  let open = true;
  connection.on('error', (error: unknown) => end(new PulseLinkLost('the Pulse connection failed', error)));
  connection.on('close', (error: unknown) => {
    open = false;
    end(new PulseLinkLost('the Pulse connection closed', error));
  });
  const close = async () => {
    if (!open) return;
    open = false;
    await connection.close().catch((error: unknown) => {
      subscription.onWarning('closing the Pulse connection failed', error);
    });
  };
  try {
    await subscribe(connection, subscription, end);
  } catch (error) {
    await close();
    throw error;
  }
  return { ended, close };
}

async function subscribe(
  connection: amqplib.ChannelModel,
  subscription: SessionSubscription,
  end: (reason: PulseLinkLost) => void,
): Promise<void> {
  const channel = await connection.createChannel();
  channel.on('error', (error: unknown) => end(new PulseLinkLost('the Pulse channel failed', error)));
  channel.on('close', () => end(new PulseLinkLost('the Pulse channel closed')));
  // Exclusive and bounded: messages missed while disconnected are found by claimWork anyway.
  await channel.assertQueue(subscription.queue, {
    exclusive: true,
    autoDelete: true,
    durable: false,
    arguments: { 'x-max-length': 10_000 },
  });
  for (const { exchange, routingKey } of subscription.bindings) {
    await channel.bindQueue(subscription.queue, exchange, routingKey);
  }
  await channel.prefetch(100);
  await channel.consume(subscription.queue, (message) => {
    if (message === null) {
      end(new PulseLinkLost('the broker canceled the Pulse consumer (queue deleted or node restarted)'));
      return;
    }
    channel.ack(message);
    // A throw here would unwind into amqplib's frame handling; the host's handlers must not.
    try {
      subscription.onMessage(message);
    } catch (error) {
      subscription.onWarning('handling a Pulse message failed', error);
    }
  });
}
