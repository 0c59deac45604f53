// Exported class: instantiated once by the worker, methods bound to it.
export class Tools {
  /** Sends `params.count` progress updates, each followed by a text chunk. */
  async feedback(ctx) {
    const count = Number(ctx.params?.count ?? 3);
    for (let i = 1; i <= count; i += 1) {
      await ctx.feedback.send({ progress: i / count, message: `step ${i}/${count}` });
      await ctx.feedback.emitText(`line ${i}\n`);
    }
    return { sent: count };
  }

  /** Returns the status word it was given, for status normalisation tests. */
  status(ctx) {
    return { status: ctx.params?.status };
  }

  /** Sends one text chunk of `params.feedback_bytes` (if set), then returns `params.bytes` characters. */
  async big(ctx) {
    const feedbackBytes = Number(ctx.params?.feedback_bytes ?? 0);
    if (feedbackBytes > 0) await ctx.feedback.emitText('f'.repeat(feedbackBytes));
    return { blob: 'x'.repeat(Number(ctx.params?.bytes ?? 0)) };
  }

  /** Calls the next middleware/host once and returns its answer. */
  async next(ctx) {
    const response = await ctx.next({ x: 1 });
    return { next: response };
  }

  /** Keeps `params.id` on this worker (ctx.resources) for later tasks. */
  async resourcePut(ctx) {
    const resource = await ctx.resources.register({
      resourceId: String(ctx.params?.id),
      type: 'sample',
      scope: 'samples',
      metadata: { value: ctx.params?.value ?? null },
    });
    return { registered: resource.resourceId };
  }

  /** Reports the resources leased for this task through its resource_refs. */
  resourceUse(ctx) {
    return { leased: ctx.leasedResources.map((r) => ({ id: r.resourceId, value: r.metadata.value, leases: r.leases })) };
  }
}
