// Stops and starts the real RabbitMQ application (the Erlang node stays up, so it is quick).
import { execFileSync } from 'node:child_process';

export function stopRabbit(): void {
  execFileSync('rabbitmqctl', ['-q', 'stop_app'], { stdio: 'ignore' });
}

export function startRabbit(): void {
  execFileSync('rabbitmqctl', ['-q', 'start_app'], { stdio: 'ignore' });
  execFileSync('rabbitmqctl', ['-q', 'await_startup'], { stdio: 'ignore' });
}
