/**
 * The limits of the public contract (README), shared by the server that
 * enforces them and the pages and daemon that stay within them.
 */

/** The most items one (UID, app) queue holds; the oldest is dropped to make room. */
export const QUEUE_CAPACITY = 100;

/** The most notifications one POST may carry. */
export const MAX_ITEMS_PER_BATCH = 1_000;

/** The longest message or action, in Unicode code points. */
export const MAX_TEXT_CODE_POINTS = 512;

/** The bounds of an item's `ttl`, in seconds (at most 30 days). */
export const MIN_TTL_SECONDS = 1;
export const MAX_TTL_SECONDS = 30 * 24 * 3600;

/** At most this many item errors are listed in a refusal; the rest are only counted. */
export const MAX_LISTED_ERRORS = 100;

/** The most ids one `daemon.ack` may carry. */
export const MAX_IDS_PER_ACK = 1_000;

/** The most ids one `daemon.dismiss` may carry (they travel in one signal between nodes). */
export const MAX_IDS_PER_DISMISS = 100;

/** The longest name of an app, a user or a device, in code points. */
export const MAX_NAME_CODE_POINTS = 100;

/** The longest deep-link scheme an app may register. */
export const MAX_SCHEME_LENGTH = 32;

/** A tag: 1 to 64 of A–Z a–z 0–9 . _ : - (an app's name for what an item is about; see `DeliveredItem.tag`). */
export const TAG_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/** The most (UID, tag) pairs one `POST /<appid>/retract` may carry. */
export const MAX_RETRACTIONS_PER_REQUEST = 1_000;

/** The longest redirect URI an app may register, in characters (its normal form, as `new URL(…).href` writes it). */
export const MAX_REDIRECT_URI_LENGTH = 512;

/** The most redirect URIs one app may register. */
export const MAX_REDIRECT_URIS_PER_APP = 10;

/** The longest `state` the grant page returns to an app, in characters. */
export const MAX_GRANT_STATE_LENGTH = 512;

/** How long a grant code can be exchanged for a UID, in seconds. */
export const GRANT_CODE_LIFETIME_SECONDS = 60;
