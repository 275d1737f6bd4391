/** The body of a successful POST: what the push transaction returns and an idempotent retry is answered with again. */
export interface Ack {
  result: 'OK';
  /** Size of the queue of the batch's last item. */
  queue_size: number;
  queue_sizes: Record<string, number>;
}

/** The body of a successful `POST /<appid>/retract`. */
export interface RetractAck {
  result: 'OK';
  /** Pending items deleted (a tag that was not pending counts 0). */
  retracted: number;
  queue_sizes: Record<string, number>;
}

/** What an idempotent retry is answered with: the first answer of either route. */
export type StoredAck = Ack | RetractAck;
