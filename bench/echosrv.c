/*
 * bench/echosrv.c: a small WebSocket (RFC 6455) echo server in C, the peer of bench/pool.js's
 * client-side benchmark. On a 2-core machine the echo server shares the cores with the clients
 * being measured, so it has to cost as little CPU per message as possible: this one does one
 * read() and one write() per read event and nothing else per message.
 *
 * Single-threaded, epoll (level-triggered), non-blocking sockets, plain C99 + POSIX, libc only,
 * Linux only. Built and cached by bench/hsload.js (buildBenchC('echosrv'):
 * cc -O2 -Wall -Wextra -std=c99 -D_GNU_SOURCE).
 *
 *   echosrv --port P [--host H]        (H defaults to 127.0.0.1; P 0 = an ephemeral port)
 *
 * The first line on stdout is `listening on ws://HOST:PORT/` (the bound address and port,
 * flushed). Like `wspp echo`: a line `stats` on stdin prints one JSON line
 * {"cpuUserMs":N,"cpuSystemMs":N,"rssBytes":N} (getrusage; the current RSS from
 * /proc/self/statm); end of stdin only stops reading it. SIGTERM and SIGINT exit at once with
 * status 0. Exit status 2: bad arguments or setup failure; 1: epoll_wait failed.
 *
 * Handshake: the request head (at most 8 KiB, else 400) must be `GET ... HTTP/1.1` with an
 * `Upgrade: websocket` header and one `Sec-WebSocket-Key` (header names and the token are
 * case-insensitive); the answer is 101 with Sec-WebSocket-Accept (SHA-1 and base64 inline).
 * No subprotocol, no extension is negotiated. Anything else gets `400 Bad Request`, then the
 * write side is shut down and input is discarded until the client closes (at most 1 MiB).
 * Bytes after the head in the same read are frames.
 *
 * Frames: it is a benchmark peer, not a conformance target. Every data frame (text, binary,
 * continuation) is echoed frame by frame, unmasked, with its FIN bit and opcode: messages are
 * NOT reassembled and text is NOT checked for UTF-8. Ping -> pong with the same payload; pong is
 * ignored; close -> a close frame with the same status code (empty if none), then the socket is
 * closed once the output is written (later input is ignored). The connection is dropped (socket
 * closed, no close frame) on an unmasked frame, RSV bits, an unknown opcode, a payload over
 * 64 MiB (or a 64-bit length with the top bit set), a control frame that is fragmented or over
 * 125 bytes, a 1-byte close payload, or a continuation outside a fragmented message / a new data
 * frame inside one (so what is echoed is always a valid frame sequence).
 *
 * Buffers: a read goes into one shared 256 KiB buffer, complete frames are unmasked 8 bytes at a
 * time straight into one shared output buffer (a server frame is never larger than the client
 * frame it answers), and the whole output of the read goes out with one write(). Only an
 * incomplete frame is kept per connection (its input buffer, compacted with memmove); one larger
 * than 128 KiB, or of which more than 16 KiB arrived, gets a buffer of its full size and the rest
 * of it is read in place. Output the socket did not take stays with the connection (EPOLLOUT
 * until written; a large rest takes over the shared buffer instead of being copied); above 4 MiB
 * of it the connection is not read until it has drained. An idle connection holds no buffer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#define MAX_HEAD 8192                      /* request head, CRLFCRLF included */
#define MAX_KEY 128                        /* Sec-WebSocket-Key value (24 when well-formed) */
#define MAX_PAYLOAD (64u * 1024 * 1024)    /* larger frame: drop the connection */
#define RBUF_SIZE (256 * 1024)             /* shared read buffer */
#define STASH_SMALL (16 * 1024)            /* a kept partial frame up to this is re-read via rbuf */
#define SWAP_MIN (64 * 1024)               /* unwritten output this large: hand the buffer over */
#define SCRATCH_KEEP (16u * 1024 * 1024)   /* a larger shared output buffer is freed after use */
#define OUT_HIGH (4u * 1024 * 1024)        /* unwritten output above this: stop reading */
#define DISCARD_MAX (1024 * 1024)          /* after a 400: input discarded before closing */
#define OUT_SLACK 256                      /* room for the 101 / 400 response */
#define MAX_EVENTS 256
#define ACCEPT_BATCH 256
#define FAIL ((size_t)-1)

enum { ST_HANDSHAKE, ST_OPEN, ST_CLOSING, ST_REJECT };

struct buf {
  unsigned char *data;
  size_t off; /* output: first byte not written yet (input: always 0) */
  size_t len;
  size_t cap;
};

struct conn {
  int fd;
  unsigned char state;
  unsigned char frag; /* inside a fragmented data message */
  unsigned char shut; /* ST_REJECT: write side shut down */
  unsigned ev;        /* epoll events registered */
  size_t need;        /* full size of the incomplete frame kept in `in`, 0 = not known yet */
  size_t discarded;   /* ST_REJECT: input bytes thrown away */
  struct buf in;      /* an incomplete frame / request head */
  struct buf out;     /* output the socket has not taken yet */
};

static int epfd = -1, lfd = -1, spare_fd = -1;
static unsigned char *rbuf;
static struct buf scratch; /* output of one read event, for a connection without unwritten output */
static char listen_tag, stdin_tag;
static char line[256];
static size_t line_len;
static int line_skip;

/* ---- SHA-1 (FIPS 180-1) and base64, for Sec-WebSocket-Accept ---- */

static uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(uint32_t h[5], const unsigned char *b) {
  uint32_t w[80], a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f, k, t;
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 | (uint32_t)b[4 * i + 2] << 8 | (uint32_t)b[4 * i + 3];
  for (int i = 16; i < 80; i++) w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  for (int i = 0; i < 80; i++) {
    if (i < 20) f = (bb & c) | (~bb & d), k = 0x5A827999u;
    else if (i < 40) f = bb ^ c ^ d, k = 0x6ED9EBA1u;
    else if (i < 60) f = (bb & c) | (bb & d) | (c & d), k = 0x8F1BBCDCu;
    else f = bb ^ c ^ d, k = 0xCA62C1D6u;
    t = rol32(a, 5) + f + e + k + w[i];
    e = d;
    d = c;
    c = rol32(bb, 30);
    bb = a;
    a = t;
  }
  h[0] += a;
  h[1] += bb;
  h[2] += c;
  h[3] += d;
  h[4] += e;
}

static void sha1(const unsigned char *msg, size_t len, unsigned char out[20]) {
  uint32_t h[5] = { 0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u };
  unsigned char block[64];
  uint64_t bits = (uint64_t)len * 8;
  size_t total = ((len + 8) / 64 + 1) * 64; /* message + 0x80 + zeros + 64-bit length */
  for (size_t off = 0; off < total; off += 64) {
    for (size_t j = 0; j < 64; j++) {
      size_t at = off + j;
      block[j] = at < len ? msg[at] : at == len ? 0x80 : 0;
    }
    if (off + 64 == total)
      for (int j = 0; j < 8; j++) block[56 + j] = (unsigned char)(bits >> (56 - 8 * j));
    sha1_block(h, block);
  }
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 4; j++) out[4 * i + j] = (unsigned char)(h[i] >> (24 - 8 * j));
}

/* 20 bytes -> 28 characters + NUL */
static void base64_20(const unsigned char in[20], char out[29]) {
  static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  int o = 0;
  for (int i = 0; i < 18; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = A[v >> 18];
    out[o++] = A[(v >> 12) & 63];
    out[o++] = A[(v >> 6) & 63];
    out[o++] = A[v & 63];
  }
  {
    uint32_t v = (uint32_t)in[18] << 16 | (uint32_t)in[19] << 8;
    out[o++] = A[v >> 18];
    out[o++] = A[(v >> 12) & 63];
    out[o++] = A[(v >> 6) & 63];
    out[o++] = '=';
  }
  out[o] = 0;
}

/* ---- buffers ---- */

/* Makes room for `extra` more bytes after b->len (compacting output first): 0, or -1. */
static int ensure(struct buf *b, size_t extra) {
  size_t cap;
  unsigned char *d;
  if (b->cap - b->len >= extra) return 0;
  if (b->off) {
    memmove(b->data, b->data + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
    if (b->cap - b->len >= extra) return 0;
  }
  cap = b->cap ? b->cap * 2 : 4096;
  if (cap < b->len + extra) cap = b->len + extra;
  d = realloc(b->data, cap);
  if (!d) return -1;
  b->data = d;
  b->cap = cap;
  return 0;
}

static void buf_free(struct buf *b) {
  free(b->data);
  b->data = NULL;
  b->off = b->len = b->cap = 0;
}

/* ---- connections ---- */

static void close_conn(struct conn *c) {
  close(c->fd); /* also takes it out of the epoll set */
  buf_free(&c->in);
  buf_free(&c->out);
  free(c);
}

/* Output bytes of a frame header (server frames are never masked). */
static unsigned char *put_header(unsigned char *d, unsigned b0, size_t len) {
  *d++ = (unsigned char)b0;
  if (len < 126) {
    *d++ = (unsigned char)len;
  } else if (len < 65536) {
    *d++ = 126;
    *d++ = (unsigned char)(len >> 8);
    *d++ = (unsigned char)len;
  } else {
    *d++ = 127;
    for (int s = 56; s >= 0; s -= 8) *d++ = (unsigned char)((uint64_t)len >> s);
  }
  return d;
}

/* dst[i] = src[i] ^ key[i % 4], 8 bytes at a time (dst and src do not overlap). */
static void unmask_copy(unsigned char *restrict dst, const unsigned char *restrict src, size_t n, const unsigned char key[4]) {
  unsigned char k8[8];
  uint64_t m, w;
  size_t i = 0;
  memcpy(k8, key, 4);
  memcpy(k8 + 4, key, 4);
  memcpy(&m, k8, 8);
  for (; i + 32 <= n; i += 32) {
    uint64_t w0, w1, w2, w3;
    memcpy(&w0, src + i, 8);
    memcpy(&w1, src + i + 8, 8);
    memcpy(&w2, src + i + 16, 8);
    memcpy(&w3, src + i + 24, 8);
    w0 ^= m;
    w1 ^= m;
    w2 ^= m;
    w3 ^= m;
    memcpy(dst + i, &w0, 8);
    memcpy(dst + i + 8, &w1, 8);
    memcpy(dst + i + 16, &w2, 8);
    memcpy(dst + i + 24, &w3, 8);
  }
  for (; i + 8 <= n; i += 8) {
    memcpy(&w, src + i, 8);
    w ^= m;
    memcpy(dst + i, &w, 8);
  }
  for (; i < n; i++) dst[i] = src[i] ^ key[i & 3];
}

/*
 * Handles the complete frames in p[0..n): their answers go to o (room for n bytes is there:
 * an answer is at least 4 bytes shorter than its frame). Returns the bytes consumed (an
 * incomplete frame stays, c->need = its full size when its length is known), or FAIL on a
 * protocol error. After a close frame everything is consumed and c->state is ST_CLOSING.
 */
static size_t frames(struct conn *c, const unsigned char *p, size_t n, struct buf *o) {
  unsigned char *d = o->data + o->len;
  size_t i = 0;
  c->need = 0;
  while (n - i >= 2) {
    const unsigned char *f = p + i, *key, *pl;
    size_t avail = n - i, hl;
    uint64_t len;
    unsigned b0 = f[0], op = b0 & 0x0f, fin = b0 & 0x80;
    if (!(f[1] & 0x80) || (b0 & 0x70)) goto bad; /* unmasked, or RSV bits (no extension) */
    len = f[1] & 0x7f;
    if (len < 126) {
      hl = 6;
    } else if (len == 126) {
      if (avail < 4) break;
      len = (uint64_t)f[2] << 8 | f[3];
      hl = 8;
    } else {
      if (avail < 10) break;
      len = 0;
      for (int k = 2; k < 10; k++) len = len << 8 | f[k];
      hl = 14;
    }
    if (len > MAX_PAYLOAD) goto bad; /* also a 64-bit length with the top bit set */
    if (op & 8) {
      if (!fin || len > 125 || op > 10) goto bad;
    } else if (op > 2 || (op == 0) != (c->frag != 0)) {
      goto bad;
    }
    if (avail < hl + len) {
      c->need = hl + (size_t)len;
      break;
    }
    key = f + hl - 4;
    pl = f + hl;
    if (op <= 2) { /* text, binary, continuation: same FIN and opcode */
      d = put_header(d, fin | op, (size_t)len);
      unmask_copy(d, pl, (size_t)len, key);
      d += len;
      c->frag = !fin;
    } else if (op == 9) { /* ping -> pong */
      d = put_header(d, 0x8a, (size_t)len);
      unmask_copy(d, pl, (size_t)len, key);
      d += len;
    } else if (op == 8) { /* close -> close with the same status code */
      if (len == 1) goto bad;
      *d++ = 0x88;
      if (len >= 2) {
        *d++ = 2;
        *d++ = pl[0] ^ key[0];
        *d++ = pl[1] ^ key[1];
      } else {
        *d++ = 0;
      }
      o->len = (size_t)(d - o->data);
      c->state = ST_CLOSING;
      return n;
    } /* op 10, pong: nothing */
    i += hl + (size_t)len;
  }
  o->len = (size_t)(d - o->data);
  return i;
bad:
  return FAIL;
}

static int header_is(const unsigned char *p, size_t n, const char *name) {
  size_t k = strlen(name);
  return n == k && strncasecmp((const char *)p, name, k) == 0;
}

/* Is tok one of the comma-separated tokens of v (case-insensitive)? */
static int has_token(const unsigned char *v, size_t n, const char *tok) {
  size_t k = strlen(tok), i = 0;
  while (i < n) {
    size_t s, e;
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    s = i;
    while (i < n && v[i] != ',') i++;
    e = i;
    while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
    if (e - s == k && strncasecmp((const char *)v + s, tok, k) == 0) return 1;
  }
  return 0;
}

/* Checks a request head (n bytes, without the final CRLFCRLF); 0 and the accept value, or -1. */
static int parse_head(const unsigned char *h, size_t n, char accept[29]) {
  const unsigned char *p = h, *end = h + n, *eol, *key = NULL;
  size_t key_len = 0;
  int upgrade = 0;
  unsigned char kbuf[MAX_KEY + sizeof WS_GUID], digest[20];
  eol = memmem(p, n, "\r\n", 2);
  if (!eol) eol = end;
  if (eol - p < 14 || memcmp(p, "GET ", 4) != 0 || memcmp(eol - 9, " HTTP/1.1", 9) != 0) return -1;
  while (eol < end) {
    const unsigned char *colon, *v, *ve;
    p = eol + 2;
    eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    if (!eol) eol = end;
    colon = memchr(p, ':', (size_t)(eol - p));
    if (!colon || colon == p) return -1;
    v = colon + 1;
    ve = eol;
    while (v < ve && (*v == ' ' || *v == '\t')) v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
    if (header_is(p, (size_t)(colon - p), "upgrade")) {
      if (has_token(v, (size_t)(ve - v), "websocket")) upgrade = 1;
    } else if (header_is(p, (size_t)(colon - p), "sec-websocket-key")) {
      if (key) return -1; /* more than one */
      key = v;
      key_len = (size_t)(ve - v);
    }
  }
  if (!upgrade || !key || key_len == 0 || key_len > MAX_KEY) return -1;
  memcpy(kbuf, key, key_len);
  memcpy(kbuf + key_len, WS_GUID, sizeof WS_GUID - 1);
  sha1(kbuf, key_len + sizeof WS_GUID - 1, digest);
  base64_20(digest, accept);
  return 0;
}

static void append(struct buf *o, const char *s, size_t n) {
  memcpy(o->data + o->len, s, n);
  o->len += n;
}

/* ST_HANDSHAKE: the request head, then frames. Returns the bytes consumed or FAIL. */
static size_t handshake(struct conn *c, const unsigned char *p, size_t n, struct buf *o) {
  static const char ok1[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Accept: ";
  static const char bad[] = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
  const unsigned char *end = n >= 4 ? memmem(p, n, "\r\n\r\n", 4) : NULL;
  size_t head, r;
  char accept[29];
  if (!end) {
    if (n > MAX_HEAD) goto reject;
    return 0; /* keep it all, wait for more */
  }
  head = (size_t)(end - p) + 4;
  if (head > MAX_HEAD || parse_head(p, head - 4, accept) < 0) goto reject;
  append(o, ok1, sizeof ok1 - 1);
  append(o, accept, 28);
  append(o, "\r\n\r\n", 4);
  c->state = ST_OPEN;
  r = frames(c, p + head, n - head, o);
  return r == FAIL ? FAIL : head + r;
reject:
  append(o, bad, sizeof bad - 1);
  c->state = ST_REJECT;
  c->need = 0;
  return n;
}

static void set_events(struct conn *c, unsigned want) {
  struct epoll_event ev;
  if (want == c->ev) return;
  memset(&ev, 0, sizeof ev);
  ev.events = want;
  ev.data.ptr = c;
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0) c->ev = want;
}

/* One write() of o (the shared scratch buffer or c->out), keeps what the socket did not take,
   updates the epoll interest; may close c. */
static void flush(struct conn *c, struct buf *o) {
  size_t pending = o->len - o->off;
  unsigned want;
  if (pending) {
    ssize_t w = write(c->fd, o->data + o->off, pending);
    if (w < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        if (o == &scratch) scratch.off = scratch.len = 0;
        close_conn(c);
        return;
      }
      w = 0;
    }
    o->off += (size_t)w;
  }
  if (o == &scratch) {
    size_t rest = scratch.len - scratch.off;
    if (rest >= SWAP_MIN) { /* hand the buffer over instead of copying (c->out is empty) */
      buf_free(&c->out);
      c->out = scratch;
      memset(&scratch, 0, sizeof scratch);
    } else if (rest) {
      if (ensure(&c->out, rest) < 0) {
        scratch.off = scratch.len = 0;
        close_conn(c);
        return;
      }
      memcpy(c->out.data + c->out.len, scratch.data + scratch.off, rest);
      c->out.len += rest;
    }
    scratch.off = scratch.len = 0;
    if (scratch.cap > SCRATCH_KEEP) buf_free(&scratch);
  } else if (c->out.off == c->out.len) {
    buf_free(&c->out); /* drained: an idle connection holds no buffer */
  }
  pending = c->out.len - c->out.off;
  if (!pending) {
    if (c->state == ST_CLOSING) {
      close_conn(c);
      return;
    }
    if (c->state == ST_REJECT && !c->shut) {
      shutdown(c->fd, SHUT_WR);
      c->shut = 1;
    }
  }
  want = pending ? EPOLLOUT : 0;
  /* read while under OUT_HIGH; once stopped, resume only when drained */
  if (c->state != ST_CLOSING && (!pending || ((c->ev & EPOLLIN) && pending <= OUT_HIGH))) want |= EPOLLIN;
  set_events(c, want);
}

/* Reads once and answers; 1 when c is still open and its output was not written (to do on
   EPOLLOUT), else 0. */
static int on_read(struct conn *c) {
  unsigned char *base;
  struct buf *o;
  size_t have, consumed, left;
  ssize_t r;
  int direct;
  if (c->state == ST_REJECT) {
    r = read(c->fd, rbuf, RBUF_SIZE);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 1;
    if (r > 0 && (c->discarded += (size_t)r) <= DISCARD_MAX) return 1;
    close_conn(c);
    return 0;
  }
  /* a large incomplete frame is completed in its own buffer; anything else goes through rbuf */
  direct = c->in.len && c->need > c->in.len && (c->in.len > STASH_SMALL || c->need > RBUF_SIZE / 2);
  if (direct) {
    if (c->in.cap < c->need && ensure(&c->in, c->need - c->in.len) < 0) {
      close_conn(c);
      return 0;
    }
    r = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
    base = c->in.data;
  } else {
    if (c->in.len > STASH_SMALL) { /* cannot happen: such a frame's size is known */
      close_conn(c);
      return 0;
    }
    if (c->in.len) memcpy(rbuf, c->in.data, c->in.len);
    r = read(c->fd, rbuf + c->in.len, RBUF_SIZE - c->in.len);
    base = rbuf;
  }
  if (r <= 0) {
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 1;
    close_conn(c); /* EOF or error */
    return 0;
  }
  have = c->in.len + (size_t)r;
  if (direct && have < c->need) { /* still incomplete: nothing to answer yet */
    c->in.len = have;
    return 1;
  }
  o = c->out.len > c->out.off ? &c->out : &scratch;
  if (ensure(o, have + OUT_SLACK) < 0) {
    close_conn(c);
    return 0;
  }
  consumed = c->state == ST_HANDSHAKE ? handshake(c, base, have, o) : frames(c, base, have, o);
  if (consumed == FAIL) {
    if (o == &scratch) scratch.off = scratch.len = 0;
    close_conn(c);
    return 0;
  }
  left = have - consumed;
  if (!left) {
    buf_free(&c->in); /* an idle connection holds no buffer */
  } else if (direct) {
    if (consumed) memmove(c->in.data, c->in.data + consumed, left);
    c->in.len = left;
  } else {
    /* keep the incomplete frame; a large one gets its full size, to be read in place */
    size_t want = (c->need > RBUF_SIZE / 2 || left > STASH_SMALL) ? c->need : left;
    if (want < left) want = left;
    if (c->in.cap < want) {
      buf_free(&c->in);
      c->in.data = malloc(want < 4096 ? 4096 : want);
      if (!c->in.data) {
        if (o == &scratch) scratch.off = scratch.len = 0;
        close_conn(c);
        return 0;
      }
      c->in.cap = want < 4096 ? 4096 : want;
    }
    memcpy(c->in.data, rbuf + consumed, left);
    c->in.len = left;
  }
  if (c->state == ST_REJECT) buf_free(&c->in);
  flush(c, o);
  return 0;
}

static void on_conn(struct conn *c, unsigned events) {
  if (events & (EPOLLERR | EPOLLHUP)) close_conn(c);
  else if (events & EPOLLIN) {
    if (on_read(c) && (events & EPOLLOUT)) flush(c, &c->out); /* on_read writes it when it answers */
  } else if (events & EPOLLOUT) flush(c, &c->out);
}

static void on_accept(void) {
  static int warned;
  for (int k = 0; k < ACCEPT_BATCH; k++) {
    struct epoll_event ev;
    struct conn *c;
    int one = 1;
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      if (!warned) {
        warned = 1;
        fprintf(stderr, "echosrv: accept: %s (connections refused while it lasts)\n", strerror(errno));
      }
      if ((errno == EMFILE || errno == ENFILE) && spare_fd >= 0) {
        /* out of descriptors: accept and drop one, or the level-triggered listener spins */
        close(spare_fd);
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) close(fd);
        spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        continue;
      }
      return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c = calloc(1, sizeof *c);
    if (!c) {
      close(fd);
      continue;
    }
    c->fd = fd;
    c->state = ST_HANDSHAKE;
    c->ev = EPOLLIN;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
      close(fd);
      free(c);
    }
  }
}

static void print_stats(void) {
  struct rusage ru;
  long long rss = 0;
  char tmp[128];
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, tmp, sizeof tmp - 1);
    long long size_pages, resident_pages;
    if (n > 0) {
      tmp[n] = 0;
      if (sscanf(tmp, "%lld %lld", &size_pages, &resident_pages) == 2) rss = resident_pages * (long long)sysconf(_SC_PAGESIZE);
    }
    close(fd);
  }
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"cpuUserMs\":%.3f,\"cpuSystemMs\":%.3f,\"rssBytes\":%lld}\n",
         (double)ru.ru_utime.tv_sec * 1e3 + (double)ru.ru_utime.tv_usec / 1e3,
         (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3, rss);
  fflush(stdout);
}

static void on_stdin(void) {
  char tmp[4096];
  ssize_t n = read(0, tmp, sizeof tmp);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) { /* end of stdin: stop reading it, keep serving */
    epoll_ctl(epfd, EPOLL_CTL_DEL, 0, NULL);
    return;
  }
  for (ssize_t i = 0; i < n; i++) {
    if (tmp[i] == '\n') {
      size_t s = 0, e = line_len;
      while (s < e && (line[s] == ' ' || line[s] == '\t' || line[s] == '\r')) s++;
      while (e > s && (line[e - 1] == ' ' || line[e - 1] == '\t' || line[e - 1] == '\r')) e--;
      if (!line_skip && e - s == 5 && memcmp(line + s, "stats", 5) == 0) print_stats();
      line_len = 0;
      line_skip = 0;
    } else if (line_len < sizeof line) {
      line[line_len++] = tmp[i];
    } else {
      line_skip = 1; /* an overlong line is ignored */
    }
  }
}

static void on_signal(int sig) {
  (void)sig;
  _exit(0);
}

static void usage(const char *msg) {
  fprintf(stderr, "echosrv: %s\nusage: echosrv --port P [--host H]   (H: 127.0.0.1 by default; P 0: ephemeral)\n", msg);
  exit(2);
}

static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == rl.rlim_max) return;
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && rl.rlim_max == RLIM_INFINITY) {
    rl.rlim_cur = 1048576; /* fs.nr_open's default: the most an unlimited hard limit allows */
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  const char *port = NULL;
  struct addrinfo hints, *res = NULL, *ai;
  struct sockaddr_storage ss;
  socklen_t sslen = sizeof ss;
  struct epoll_event ev, events[MAX_EVENTS];
  struct sigaction sa;
  char shown[INET6_ADDRSTRLEN + 2], addr[INET6_ADDRSTRLEN];
  unsigned bound_port;
  int rc, one = 1;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf("usage: echosrv --port P [--host H]   (H: 127.0.0.1 by default; P 0: ephemeral)\n");
      return 0;
    } else if (!strcmp(a, "--port")) {
      char *end;
      long p;
      if (!v) usage("missing value for --port");
      errno = 0;
      p = strtol(v, &end, 10);
      if (errno || end == v || *end || p < 0 || p > 65535) usage("--port must be 0..65535");
      port = v, i++;
    } else if (!strcmp(a, "--host")) {
      if (!v || !*v) usage("missing value for --host");
      host = v, i++;
    } else {
      fprintf(stderr, "echosrv: unknown argument \"%s\"\n", a);
      usage("bad arguments");
    }
  }
  if (!port) usage("--port is required");

  /* descriptors 0-2 taken, so that no socket becomes "stdin" or gets stderr's output */
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd ? O_WRONLY : O_RDONLY) < 0) return 2;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  raise_nofile();

  rbuf = malloc(RBUF_SIZE);
  if (!rbuf) {
    fprintf(stderr, "echosrv: out of memory\n");
    return 2;
  }
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
    fprintf(stderr, "echosrv: %s: %s\n", host, gai_strerror(rc));
    return 2;
  }
  for (ai = res; ai; ai = ai->ai_next) {
    lfd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (lfd < 0) continue;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(lfd, 65535) == 0) break;
    rc = errno;
    close(lfd);
    lfd = -1;
    errno = rc;
  }
  if (lfd < 0) {
    fprintf(stderr, "echosrv: cannot listen on %s port %s: %s\n", host, port, strerror(errno));
    return 2;
  }
  freeaddrinfo(res);
  if (getsockname(lfd, (struct sockaddr *)&ss, &sslen) < 0) {
    fprintf(stderr, "echosrv: getsockname: %s\n", strerror(errno));
    return 2;
  }
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof addr);
    snprintf(shown, sizeof shown, "[%s]", addr);
    bound_port = ntohs(s6->sin6_port);
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof addr);
    snprintf(shown, sizeof shown, "%s", addr);
    bound_port = ntohs(s4->sin_port);
  }

  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    fprintf(stderr, "echosrv: epoll_create1: %s\n", strerror(errno));
    return 2;
  }
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.ptr = &listen_tag;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) < 0) {
    fprintf(stderr, "echosrv: epoll_ctl: %s\n", strerror(errno));
    return 2;
  }
  ev.data.ptr = &stdin_tag;
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev); /* fails for a regular file or /dev/null: no stats then */
  spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

  printf("listening on ws://%s:%u/\n", shown, bound_port);
  fflush(stdout);

  for (;;) {
    int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "echosrv: epoll_wait: %s\n", strerror(errno));
      return 1;
    }
    for (int i = 0; i < n; i++) {
      void *tag = events[i].data.ptr;
      if (tag == &listen_tag) on_accept();
      else if (tag == &stdin_tag) on_stdin();
      else on_conn(tag, events[i].events);
    }
  }
}
