/*
 * bench/hsload.c: a WebSocket (RFC 6455) open+close load generator in C, for the "handshakes
 * per second" row of bench/echo.js. A Node client spends more CPU per open+close cycle than the
 * server it drives, so on a 2-core machine (server on one core, generator on the other) the JS
 * generator measures itself; this one is cheap enough that the server is the bottleneck.
 *
 * Single-threaded, epoll (edge-triggered), plain C99 + POSIX, libc only. Built and cached by
 * bench/hsload.js (cc -O2 -Wall -Wextra -std=c99 -D_GNU_SOURCE).
 *
 *   hsload --port P --seconds S --warmup W --concurrency K [--host H] [--sync] [--max-time T]
 *
 * K cycles run at once, each: non-blocking connect (TCP_NODELAY), the same upgrade request as
 * bench/loadgen.js (fixed Sec-WebSocket-Key), response head up to CRLFCRLF (status 101 and the
 * Sec-WebSocket-Accept checked), a masked close frame (1000), the server's close frame, then EOF
 * (or ECONNRESET after the close frame: a success, counted apart in resetAfterClose); close the
 * socket, start the next cycle. Every cycle has a 5 s deadline.
 *
 * The measurement window is [W, W+S) seconds after start; a cycle counts when it completes
 * inside it. --sync prints {"mark":"start"} / {"mark":"end"} lines at the window's edges. After
 * the window no new cycle starts, in-flight ones get at most 5 s more, then ONE JSON line with
 * the fields of loadgen.js's connect-rate result (plus resetAfterClose) goes to stdout.
 * Exit status: 0 ok, 1 errors or nothing counted, 2 bad arguments / setup failure, 4 --max-time
 * (default 60 s, the whole run) hit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ==" /* RFC 6455's sample nonce, as in bench/loadgen.js */
/* The RFC 6455 accept value for WS_KEY, computed once with node:
 *   crypto.createHash('sha1').update(WS_KEY + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64') */
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

#define MAX_HEAD 8192              /* response head larger than this: error */
#define BUF_SIZE (MAX_HEAD + 512)  /* per-connection read buffer */
#define CYCLE_TIMEOUT 5.0          /* seconds per open+close cycle */
#define DRAIN_TIMEOUT 5.0          /* seconds for in-flight cycles after the window */
#define MAX_CONCURRENCY 10000
#define MAX_EVENTS 256

enum { ST_FREE, ST_CONNECTING, ST_SEND_REQ, ST_READ_HEAD, ST_SEND_CLOSE, ST_READ_CLOSE, ST_WAIT_EOF };
enum { E_CONNECT, E_HANDSHAKE, E_PROTOCOL, E_CLOSE, E_TIMEOUT, E_KINDS };
static const char *const KIND_NAME[E_KINDS] = { "connect", "handshake", "protocol", "close", "timeout" };

struct conn {
  int fd;
  int state;
  size_t off;      /* bytes of the request / close frame written so far */
  size_t len;      /* bytes in buf */
  double deadline; /* monotonic seconds */
  unsigned char buf[BUF_SIZE];
};

/* masked close frame: FIN|close, MASK|2, mask key, status 1000 (0x03e8) masked */
static const unsigned char MASK[4] = { 0x37, 0xfa, 0x21, 0x3d };
static unsigned char CLOSE_FRAME[8];

static char request[512];
static size_t request_len;

static struct conn *conns;
static int epfd = -1;
static struct sockaddr_in addr;

static long long err_count[E_KINDS];
static char err_first[E_KINDS][160];
static long long counted, total, reset_after_close;
static int inflight;
static double meas_start, meas_end; /* planned window, monotonic seconds */
static int started, ended;          /* window marks passed: a cycle counts between them */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(const char *msg) {
  fprintf(stderr, "hsload: %s\nusage: hsload --port P --seconds S --warmup W --concurrency K [--host H] [--sync] [--max-time T]\n", msg);
  exit(2);
}

static double num_arg(const char *name, const char *v, double lo, double hi) {
  char *end;
  double d;
  if (!v) usage("missing value");
  errno = 0;
  d = strtod(v, &end);
  if (errno || end == v || *end || d < lo || d > hi) {
    fprintf(stderr, "hsload: bad %s \"%s\" (expected %g..%g)\n", name, v, lo, hi);
    exit(2);
  }
  return d;
}

static void note(int kind, const char *fmt, ...) {
  if (err_count[kind]++ == 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_first[kind], sizeof err_first[kind], fmt, ap);
    va_end(ap);
  }
}

static int finish_cycle(struct conn *c, int ok, int reset) {
  close(c->fd); /* also removes it from the epoll set */
  c->fd = -1;
  c->state = ST_FREE;
  inflight--;
  if (ok) {
    total++;
    if (reset) reset_after_close++;
    if (started && !ended) counted++; /* completed inside the window as marked (and reported) */
  }
  return 0;
}

static int fail(struct conn *c, int kind, const char *fmt, ...) {
  if (err_count[kind]++ == 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_first[kind], sizeof err_first[kind], fmt, ap);
    va_end(ap);
  }
  return finish_cycle(c, 0, 0);
}

/* Copies up to n bytes of s into out as printable text (for error messages). */
static const char *printable(const unsigned char *s, size_t n, char *out, size_t outsz) {
  size_t i, j = 0;
  for (i = 0; i < n && j + 1 < outsz && s[i] != '\r' && s[i] != '\n'; i++) out[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
  out[j] = 0;
  return out;
}

/* Checks a complete response head (n bytes, without the final CRLFCRLF): 0 ok, else -1 (noted). */
static int check_head(struct conn *c, const unsigned char *h, size_t n) {
  char tmp[96];
  const unsigned char *p = h, *end = h + n, *eol;
  const unsigned char *accept = NULL;
  size_t accept_len = 0;
  eol = memmem(p, (size_t)(end - p), "\r\n", 2);
  if (!eol) eol = end;
  if ((size_t)(eol - p) < 12 || memcmp(p, "HTTP/1.1 101", 12) != 0 || ((size_t)(eol - p) > 12 && p[12] != ' ')) {
    fail(c, E_HANDSHAKE, "handshake refused: \"%s\"", printable(p, (size_t)(eol - p), tmp, 81));
    return -1;
  }
  while (eol < end) {
    const unsigned char *colon, *v, *ve;
    p = eol + 2;
    eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    if (!eol) eol = end;
    colon = memchr(p, ':', (size_t)(eol - p));
    if (!colon || colon == p) {
      fail(c, E_HANDSHAKE, "malformed response header line \"%s\"", printable(p, (size_t)(eol - p), tmp, 61));
      return -1;
    }
    if (colon - p == 20 && strncasecmp((const char *)p, "sec-websocket-accept", 20) == 0) {
      v = colon + 1;
      ve = eol;
      while (v < ve && (*v == ' ' || *v == '\t')) v++;
      while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
      accept = v;
      accept_len = (size_t)(ve - v);
    }
  }
  if (!accept || accept_len != sizeof WS_ACCEPT - 1 || memcmp(accept, WS_ACCEPT, accept_len) != 0) {
    fail(c, E_HANDSHAKE, "bad Sec-WebSocket-Accept \"%s\"", accept ? printable(accept, accept_len, tmp, 61) : "(none)");
    return -1;
  }
  return 0;
}

/* Writes from buf+off; 1 when all written, 0 on EAGAIN, -1 on error (errno set). */
static int write_some(struct conn *c, const unsigned char *data, size_t n) {
  while (c->off < n) {
    ssize_t w = send(c->fd, data + c->off, n - c->off, MSG_NOSIGNAL);
    if (w > 0) c->off += (size_t)w;
    else if (w < 0 && errno == EINTR) continue;
    else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    else return -1;
  }
  return 1;
}

/* Runs a connection's state machine as far as it goes (edge-triggered: until EAGAIN). */
static int step(struct conn *c, unsigned events) {
  /* every turn makes progress (a state change, or bytes read into a bounded buffer): the guard
     is never reached */
  for (int guard = 0; guard < 2 * BUF_SIZE + 16; guard++) {
    switch (c->state) {
    case ST_CONNECTING: {
      int err = 0;
      socklen_t len = sizeof err;
      if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return 0;
      if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
      if (err) return fail(c, E_CONNECT, "connect: %s", strerror(err));
      c->state = ST_SEND_REQ;
      c->off = 0;
      break;
    }
    case ST_SEND_REQ: {
      int r = write_some(c, (const unsigned char *)request, request_len);
      if (r < 0) return fail(c, E_HANDSHAKE, "writing the upgrade request: %s", strerror(errno));
      if (r == 0) return 0;
      c->state = ST_READ_HEAD;
      c->len = 0;
      break;
    }
    case ST_READ_HEAD:
    case ST_READ_CLOSE:
    case ST_WAIT_EOF: {
      ssize_t n;
      if (c->state == ST_READ_HEAD || c->state == ST_READ_CLOSE) {
        /* parse what is buffered first (head and close frame may arrive together) */
        if (c->state == ST_READ_HEAD && c->len >= 4) {
          unsigned char *at = memmem(c->buf, c->len, "\r\n\r\n", 4);
          if (at) {
            size_t head = (size_t)(at - c->buf);
            if (check_head(c, c->buf, head) < 0) return 0;
            memmove(c->buf, at + 4, c->len - head - 4);
            c->len -= head + 4;
            c->state = ST_SEND_CLOSE;
            c->off = 0;
            break;
          }
          if (c->len > MAX_HEAD) return fail(c, E_HANDSHAKE, "response head larger than %d bytes", MAX_HEAD);
        }
        if (c->state == ST_READ_CLOSE && c->len >= 1) {
          if (c->buf[0] != 0x88) return fail(c, E_PROTOCOL, "expected a close frame, got first byte 0x%02x", c->buf[0]);
          if (c->len >= 2) {
            size_t flen = c->buf[1] & 0x7f;
            if (c->buf[1] & 0x80) return fail(c, E_PROTOCOL, "server close frame is masked");
            if (flen > 125) return fail(c, E_PROTOCOL, "server close frame longer than 125 bytes");
            if (c->len >= 2 + flen) {
              if (c->len > 2 + flen) return fail(c, E_PROTOCOL, "data after the server's close frame");
              c->state = ST_WAIT_EOF;
              c->len = 0;
              break;
            }
          }
        }
      }
      if (c->len >= BUF_SIZE) return fail(c, E_HANDSHAKE, "response head larger than %d bytes", MAX_HEAD);
      n = recv(c->fd, c->buf + c->len, BUF_SIZE - c->len, 0);
      if (n > 0) {
        if (c->state == ST_WAIT_EOF) return fail(c, E_PROTOCOL, "data after the server's close frame");
        c->len += (size_t)n;
        break;
      }
      if (n < 0 && errno == EINTR) break;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
      if (c->state == ST_WAIT_EOF) {
        if (n == 0) return finish_cycle(c, 1, 0);
        if (errno == ECONNRESET) return finish_cycle(c, 1, 1);
        return fail(c, E_CLOSE, "after the close frame: %s", strerror(errno));
      }
      if (c->state == ST_READ_HEAD) {
        if (n == 0) return fail(c, E_HANDSHAKE, "server closed before the response head was complete");
        return fail(c, E_HANDSHAKE, "reading the response head: %s", strerror(errno));
      }
      if (n == 0) return fail(c, E_CLOSE, "server closed before answering the close frame");
      return fail(c, E_CLOSE, "waiting for the close frame: %s", strerror(errno));
    }
    case ST_SEND_CLOSE: {
      int r = write_some(c, CLOSE_FRAME, sizeof CLOSE_FRAME);
      if (r < 0) return fail(c, E_CLOSE, "writing the close frame: %s", strerror(errno));
      if (r == 0) return 0;
      c->state = ST_READ_CLOSE;
      break;
    }
    default:
      return 0;
    }
  }
  return 0;
}

/* Starts a cycle in free slot i. */
static void launch(int i, double t) {
  struct conn *c = &conns[i];
  struct epoll_event ev;
  int one = 1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    note(E_CONNECT, "socket: %s", strerror(errno));
    return;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    note(E_CONNECT, "connect: %s", strerror(errno));
    close(fd);
    return;
  }
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN | EPOLLOUT | EPOLLET; /* adding a ready socket reports it at once */
  ev.data.u32 = (unsigned)i;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    note(E_CONNECT, "epoll_ctl: %s", strerror(errno));
    close(fd);
    return;
  }
  c->fd = fd;
  c->state = ST_CONNECTING;
  c->off = 0;
  c->len = 0;
  c->deadline = t + CYCLE_TIMEOUT;
  inflight++;
}

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
    else if (ch < 0x20 || ch >= 0x7f) fprintf(f, "\\u%04x", ch);
    else fputc(ch, f);
  }
  fputc('"', f);
}

static void mark(const char *which) {
  printf("{\"mark\":\"%s\"}\n", which);
  fflush(stdout);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  long port = 0;
  double seconds = -1, warmup = -1, max_time = 60;
  int concurrency = 0, sync = 0;
  double t0, t, drain_until = 0, next_scan;
  double meas_start_actual = 0, meas_end_actual = 0;
  long long errors = 0;
  struct epoll_event events[MAX_EVENTS];
  char req_host[64];

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--port")) port = (long)num_arg(a, v, 1, 65535), i++;
    else if (!strcmp(a, "--seconds")) seconds = num_arg(a, v, 0.01, 3600), i++;
    else if (!strcmp(a, "--warmup")) warmup = num_arg(a, v, 0, 3600), i++;
    else if (!strcmp(a, "--concurrency")) concurrency = (int)num_arg(a, v, 1, MAX_CONCURRENCY), i++;
    else if (!strcmp(a, "--max-time")) max_time = num_arg(a, v, 0.1, 7200), i++;
    else if (!strcmp(a, "--host")) {
      if (!v) usage("missing value");
      host = v, i++;
    } else if (!strcmp(a, "--sync")) sync = 1;
    else {
      fprintf(stderr, "hsload: unknown argument \"%s\"\n", a);
      usage("bad arguments");
    }
  }
  if (!port) usage("--port is required");
  if (seconds < 0) usage("--seconds is required");
  if (warmup < 0) usage("--warmup is required");
  if (!concurrency) usage("--concurrency is required");
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) usage("--host must be a numeric IPv4 address");
  if (strlen(host) > 40) usage("--host too long");
  snprintf(req_host, sizeof req_host, "%s:%ld", host, port);
  /* the same request as bench/loadgen.js's REQUEST */
  request_len = (size_t)snprintf(request, sizeof request,
                                 "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                 "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                                 req_host);
  CLOSE_FRAME[0] = 0x88;
  CLOSE_FRAME[1] = 0x80 | 2;
  memcpy(CLOSE_FRAME + 2, MASK, 4);
  CLOSE_FRAME[6] = 0x03 ^ MASK[0];
  CLOSE_FRAME[7] = 0xe8 ^ MASK[1];

  signal(SIGPIPE, SIG_IGN);
  conns = calloc((size_t)concurrency, sizeof *conns);
  if (!conns) {
    fprintf(stderr, "hsload: out of memory\n");
    return 2;
  }
  for (int i = 0; i < concurrency; i++) conns[i].fd = -1;
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    fprintf(stderr, "hsload: epoll_create1: %s\n", strerror(errno));
    return 2;
  }

  t0 = now_s();
  meas_start = t0 + warmup;
  meas_end = meas_start + seconds;
  next_scan = t0 + 0.1;
  for (;;) {
    int n, wait_ms;
    double until;
    t = now_s();
    if (t - t0 >= max_time) {
      printf("{\"mode\":\"connect\",\"error\":\"hard time limit of %gs hit\",\"timeout\":true}\n", max_time);
      fflush(stdout);
      return 4;
    }
    if (!started && t >= meas_start) {
      started = 1;
      meas_start_actual = t;
      if (sync) mark("start");
    }
    if (!ended && t >= meas_end) {
      ended = 1;
      meas_end_actual = t;
      drain_until = t + DRAIN_TIMEOUT;
      if (sync) mark("end");
    }
    if (ended) {
      if (inflight == 0) break;
      if (t >= drain_until) {
        for (int i = 0; i < concurrency; i++) {
          if (conns[i].state != ST_FREE) {
            note(E_TIMEOUT, "cycle still open %g s after the window (abandoned)", DRAIN_TIMEOUT);
            finish_cycle(&conns[i], 0, 0);
          }
        }
        break;
      }
    } else {
      /* keep K cycles in flight (a slot whose connect failed at once is retried next turn) */
      for (int i = 0; i < concurrency && inflight < concurrency; i++)
        if (conns[i].state == ST_FREE) launch(i, t);
    }
    /* per-cycle deadlines, checked every 100 ms */
    if (t >= next_scan) {
      next_scan = t + 0.1;
      for (int i = 0; i < concurrency; i++)
        if (conns[i].state != ST_FREE && t >= conns[i].deadline) fail(&conns[i], E_TIMEOUT, "open+close cycle took more than %g s", CYCLE_TIMEOUT);
    }
    until = next_scan;
    if (!started && meas_start < until) until = meas_start;
    if (!ended && meas_end < until) until = meas_end;
    wait_ms = (int)((until - t) * 1000.0 + 0.999);
    if (wait_ms < 0) wait_ms = 0;
    if (wait_ms > 100) wait_ms = 100;
    n = epoll_wait(epfd, events, MAX_EVENTS, wait_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      printf("{\"mode\":\"connect\",\"error\":\"epoll_wait: %s\"}\n", strerror(errno));
      return 2;
    }
    for (int k = 0; k < n; k++) {
      struct conn *c = &conns[events[k].data.u32];
      if (c->state != ST_FREE) step(c, events[k].events);
    }
  }
  {
    double elapsed = meas_end_actual - meas_start_actual;
    int first = 1;
    for (int k = 0; k < E_KINDS; k++) errors += err_count[k];
    printf("{\"mode\":\"connect\",\"concurrency\":%d,\"seconds\":%.3f,\"handshakes\":%lld,\"handshakesPerSec\":%.0f,"
           "\"totalHandshakes\":%lld,\"errors\":%lld,\"errorDetails\":[",
           concurrency, elapsed, counted, elapsed > 0 ? (double)counted / elapsed : 0.0, total, errors);
    for (int k = 0; k < E_KINDS; k++) {
      char detail[256];
      if (!err_count[k]) continue;
      snprintf(detail, sizeof detail, "%s: %lld (first: %s)", KIND_NAME[k], err_count[k], err_first[k]);
      if (!first) putchar(',');
      first = 0;
      json_string(stdout, detail);
    }
    printf("],\"resetAfterClose\":%lld}\n", reset_after_close);
    fflush(stdout);
    return errors > 0 || counted == 0 ? 1 : 0;
  }
}
