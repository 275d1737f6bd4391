/** The body of a successful POST: what the push transaction returns and an idempotent retry is answered with again. */
export interface Ack {
  result: 'OK';
  /** Size of the queue of the batch's last item. */
  queue_size: number;
  queue_sizes: Record<string, number>;
}
