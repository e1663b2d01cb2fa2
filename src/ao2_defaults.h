/* Every default of the module, in one place. The directive setters, the
 * merges, the start-up code and the HTTP client all take them from here;
 * README.md and conf/api_oauth2.conf document the same values. Plain C, no
 * httpd header: ao2_http.c and the unit tests include it too. */
#ifndef AO2_DEFAULTS_H
#define AO2_DEFAULTS_H

/* Where token records live without ApiOAuth2TokenStore (Debian's apache2
 * state directory). The directory is made 0700 for the run user; a key
 * generated for it goes beside the directory, out of the run user's reach
 * (see ao2_startup.c). */
#define AO2_DEFAULT_STORE "dbm:/var/lib/apache2/api_oauth2/tokens"
/* The generated key of a store that has no directory of its own (socache),
 * relative to DefaultRuntimeDir. */
#define AO2_DEFAULT_RUNTIME_KEY "api_oauth2.key"

/* The validation cache, and its lifetimes in seconds. */
#define AO2_DEFAULT_CACHE         "shm"
#define AO2_DEFAULT_CACHE_TTL     300
#define AO2_DEFAULT_CACHE_NEG_TTL 10
/* With a memcache cache, a verdict is also kept this long in node-local
 * shared memory (never beyond ApiOAuth2CacheTTL); the revocation log
 * (ao2_revlog.c) keeps a revoke elsewhere from waiting for it. */
#define AO2_DEFAULT_CACHE_LOCAL_TTL 300

/* The revocation log: a node reads it at most this often (ms), and its
 * node-local copies answer only while the last good read is less than
 * twice this old, so a revoke on another server counts here within about
 * 2 x 250 ms plus memcached's round trips: SPEC's bound is 1 s. */
#define AO2_REVLOG_INTERVAL_MS 250
/* How far ahead of a node's clock (µs) the log's counter may be: it starts
 * at the time and grows by one per revoke, so beyond any clock skew
 * between servers it is forged; a node then resets it and answers nothing
 * from a cache until it reads right (ao2_revlog.c). */
#define AO2_REVLOG_AHEAD apr_time_from_sec(3600)
/* Tombstones a node keeps (576 bytes each); one pushed out counts as a gap
 * (older memcached verdicts become misses). */
#define AO2_REVLOG_TOMBSTONES 16384
/* Seconds a log entry stays in memcached: a node that reads the log later
 * than that (idle, cut off) finds a gap and drops its local copies. */
#define AO2_REVLOG_ENTRY_TTL 900
/* Entries a node reads back when it first reads the log (started,
 * restarted): the tombstones of what was revoked or refreshed away before
 * it ran, so that an old verdict or index entry written back into memcached
 * is not believed there either. Back until this many, or until 64 in a row
 * are gone (expired, evicted); each is a memcached get, once. */
#define AO2_REVLOG_BACKFILL 1024
/* The file of the tombstones a node learned (ao2_journal.h), relative to
 * DefaultRuntimeDir without ApiOAuth2RevocationJournal: a restart keeps
 * them, a reboot of a tmpfs /run does not. One record of 80 bytes per
 * tombstone slot (AO2_REVLOG_TOMBSTONES: 1.25 MiB at most). */
#define AO2_DEFAULT_REVLOG_JOURNAL "api_oauth2_revoked"

/* ApiOAuth2Metrics on: counters in shared memory (ao2_metrics.c). */
#define AO2_DEFAULT_METRICS 1

/* Provider calls. */
#define AO2_DEFAULT_CONNECT_TIMEOUT 3000         /* ms */
#define AO2_DEFAULT_TOTAL_TIMEOUT   10000        /* ms */
#define AO2_DEFAULT_MAX_RESPONSE    (256 * 1024) /* bytes */

/* Provider metadata (discovery document, JWKS), seconds. */
#define AO2_DEFAULT_LEEWAY           60   /* clock skew on exp, iat, nbf */
#define AO2_MAX_LEEWAY               600  /* the most a provider may set */
#define AO2_DEFAULT_METADATA_REFRESH 3600 /* refetched this often */
#define AO2_DEFAULT_METADATA_BACKOFF 300  /* longest wait after failures */
#define AO2_DEFAULT_JWKS_MIN_REFETCH 10   /* unknown kid: at most this often */

/* Seconds a refresh-lock lease adds to its provider calls' total timeouts
 * for the store writes that follow them (dbm under its mutex, socache). */
#define AO2_LOCK_WRITE_MARGIN 5

/* Lifetimes, seconds. */
#define AO2_DEFAULT_STATE_TTL  600
#define AO2_DEFAULT_RECORD_TTL (30 * 86400)

/* Seconds after a refresh during which /token answers the tokens that
 * refresh stored instead of refreshing again (ApiOAuth2RefreshWindow). The
 * workers of one API client that share an identity all find its access
 * token expired at about the same time and each call /token, over a second
 * or more and over several servers; each further refresh would end the
 * access token the one before handed out (and the next 401 would make that
 * worker refresh in turn). Longer only delays a client that wants new
 * tokens at once, which /revoke and a new authorization give it. */
#define AO2_DEFAULT_REFRESH_WINDOW 5
#define AO2_REFRESH_WINDOW_MAX     60

/* Per location. */
#define AO2_DEFAULT_MAX_BODY    65536 /* bytes */
#define AO2_DEFAULT_LOGIN_CLAIM "email"
/* ApiOAuth2EmailVerified required: with login claim email, only an email
 * the provider calls verified is a login. */
#define AO2_DEFAULT_EMAIL_VERIFIED 1

/* Seconds a failed lookup (Bearer) or refresh stays the answer, so that
 * callers meanwhile get it at once instead of each trying the failing
 * provider in turn (2: memcached counts whole seconds, 1 could mean 0). */
#define AO2_FAILED_LOOKUP_TTL 2
/* Provider calls of the Bearer check in flight at once, per process: a
 * flood of made-up tokens against a hanging provider holds that many
 * threads. Beyond them, that many more checks wait that long for a call
 * slot (a burst of new tokens while the provider answers in milliseconds);
 * the rest get 503 with Retry-After at once. The endpoints' calls (code
 * and refresh grants, revocation, userinfo) have as many slots and waiters
 * of their own, per provider. */
#define AO2_DEFAULT_PROVIDER_CALLS        8
#define AO2_DEFAULT_PROVIDER_CALL_WAITERS 8
#define AO2_DEFAULT_PROVIDER_CALL_WAIT    apr_time_from_msec(250)
/* Requests of one process that wait for another's refresh (or revoke) of
 * one identity, behind its refresh lock: at most this many per identity
 * (counted by a hash of the lock into AO2_REFRESH_WAIT_SLOTS, so two
 * identities may share a count), and this many for the identities of one
 * provider together. The rest answer 503 with Retry-After at once: a burst
 * of /token calls for one identity against a provider that hangs holds
 * that many threads of a child for the provider's timeout, not all. */
#define AO2_DEFAULT_REFRESH_WAITERS          8
#define AO2_DEFAULT_PROVIDER_REFRESH_WAITERS 16
#define AO2_REFRESH_WAIT_SLOTS               256
/* Retry-After (seconds) of every held or capped answer: a held failure
 * is the answer that long, and a provider that answers frees its call
 * slots well within it. */
#define AO2_RETRY_AFTER AO2_FAILED_LOOKUP_TTL
/* Bits of the dbm store's key filter (1 MB): at one key per 16 bits, under
 * 0.3% of unknown keys read the file for half a million stored keys. */
#define AO2_STORE_FILTER_BITS (1u << 23)

/* An access token the provider gave no expires_in lives this long here (the
 * usual provider default, and what the client is told): never for ever. */
#define AO2_UNDATED_TOKEN_TTL     3600
#define AO2_DEFAULT_CLIENT_AUTH   1 /* ApiOAuth2ClientAuthentication on */
#define AO2_DEFAULT_SCRUB_HEADERS 1 /* ApiOAuth2ScrubHeaders on */
#define AO2_DEFAULT_PASS_TOKEN    0 /* ApiOAuth2PassToken off */

#endif
