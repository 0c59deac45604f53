import { FrameType } from '@astraflow/protocol';
import { heartbeatDelayMs } from './backoff.js';
import { HostMetricsSampler } from './host-metrics.js';
import type { InboundStream } from './inbound.js';
import type { OutboundStream } from './outbound.js';
import type { CompiledSessionConfig } from './session-config.js';
import type { SessionLink, SessionOptions } from './session-types.js';

/** Where a heartbeat's numbers come from. */
export interface HeartbeatSources {
  /** The worker's metrics and health (`SessionOptions.heartbeatMetrics`, `SessionOptions.healthy`). */
  worker: Pick<SessionOptions, 'heartbeatMetrics' | 'healthy'>;
  /** The receive side: buffered frames, app queue depth, and whether it is stuck (then `healthy: false`). */
  inbound: Pick<InboundStream, 'buffered' | 'appQueueSize' | 'stuck'>;
  /** The send side: unacked and queued frames, measured latency. */
  outbound: Pick<OutboundStream, 'unacked' | 'queued' | 'latency'>;
}

/**
 * Sends `control.heartbeat` every `heartbeat_interval_seconds` (plus
 * jitter, applied here) while the session is open, with host, worker and
 * stream metrics and the `healthy` flag.
 */
export class Heartbeat {
  readonly #link: SessionLink;
  readonly #config: CompiledSessionConfig;
  readonly #sources: HeartbeatSources;
  readonly #random: () => number;
  readonly #host: HostMetricsSampler;
  #timer: NodeJS.Timeout | undefined;

  constructor(link: SessionLink, config: CompiledSessionConfig, sources: HeartbeatSources, random: () => number) {
    this.#link = link;
    this.#config = config;
    this.#sources = sources;
    this.#random = random;
    this.#host = new HostMetricsSampler(config.dataDir);
  }

  /** (Re)starts the beat; the first one goes out after one interval. */
  start(): void {
    this.stop();
    const tick = (): void => {
      this.#timer = setTimeout(
        () => {
          this.send();
          tick();
        },
        heartbeatDelayMs(this.#config.heartbeat, this.#random),
      );
      // Deliberately ref'd: a live session keeps the process alive until close().
    };
    tick();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Sends one heartbeat now (if the session is open). */
  send(): void {
    if (!this.#link.isOpen()) return;
    const { stats } = this.#link;
    const { inbound, outbound } = this.#sources;
    const extra = this.#sources.worker.heartbeatMetrics?.() ?? { inflight: 0 };
    const frame = this.#link.control(FrameType.HEARTBEAT, {
      healthy: !this.#sources.inbound.stuck && (this.#sources.worker.healthy?.() ?? true),
      metrics: {
        ...this.#host.sample(),
        ...extra,
        inflight: Math.max(0, Math.floor(extra.inflight)),
        unacked_frames: outbound.unacked,
        outbox_depth: outbound.queued,
        recv_buffered: inbound.buffered,
        app_queue_depth: inbound.appQueueSize,
        dropped_frames: stats.transportQueueDrops + stats.appQueueDrops,
        retransmissions: stats.retransmissions,
        ...(outbound.latency.ms !== undefined ? { latency_ms: outbound.latency.ms } : {}),
      },
    });
    stats.heartbeatsSent++;
    void this.#link.transmit(frame);
  }
}
