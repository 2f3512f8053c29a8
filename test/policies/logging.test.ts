import { describe, it, expect, vi } from 'vitest';
import diagnosticsChannel from 'node:diagnostics_channel';
import {
  AccessChannel,
  AccessGroup,
  ChannelLogger,
  ErrorChannel,
  ErrorGroup,
  channelLabel,
  channelMask,
  custom,
  diagnostics,
  logging,
  pinoLevel,
  stream,
  stub,
} from '../../src/policies/logging/index.js';
import type { LogEntry, LoggerSpec, LogKind, LogSink, PinoLike } from '../../src/policies/logging/index.js';

/** A fake Writable collecting what it is given. */
const collector = () => {
  const lines: string[] = [];
  return { lines, write: (chunk: string) => lines.push(chunk) };
};

/** A spec whose sink is a spy. */
const spySpec = <const Ch extends string>(channels: readonly Ch[]) => {
  const log = vi.fn<LogSink['log']>();
  const spec: LoggerSpec<Ch> = { kind: 'logger', name: 'spy', channels, createSink: () => ({ log }) };
  return { spec, log };
};

describe('channels', () => {
  it('has WebSocket++ bit values', () => {
    expect(AccessChannel).toEqual({
      connect: 0x1,
      disconnect: 0x2,
      control: 0x4,
      frame_header: 0x8,
      frame_payload: 0x10,
      message_header: 0x20,
      message_payload: 0x40,
      endpoint: 0x80,
      debug_handshake: 0x100,
      debug_close: 0x200,
      devel: 0x400,
      app: 0x800,
      http: 0x1000,
      fail: 0x2000,
    });
    expect(AccessGroup).toEqual({ none: 0, access_core: 0x3003, all: 0xffffffff });
    expect(ErrorChannel).toEqual({ devel: 0x1, library: 0x2, info: 0x4, warn: 0x8, rerror: 0x10, fatal: 0x20 });
    expect(ErrorGroup).toEqual({ none: 0, all: 0xffffffff });
  });

  it('access_core is connect | disconnect | http | fail (as the type-level expansion assumes)', () => {
    expect(channelMask('access', ['connect', 'disconnect', 'http', 'fail'])).toBe(AccessGroup.access_core);
  });

  it('prints WebSocket++ labels', () => {
    expect(channelLabel('access', AccessChannel.app)).toBe('application');
    expect(channelLabel('access', AccessChannel.connect)).toBe('connect');
    expect(channelLabel('access', AccessChannel.frame_header)).toBe('frame_header');
    expect(channelLabel('error', ErrorChannel.warn)).toBe('warning');
    expect(channelLabel('error', ErrorChannel.rerror)).toBe('error');
    expect(channelLabel('error', ErrorChannel.devel)).toBe('devel');
    expect(channelLabel('error', ErrorChannel.fatal)).toBe('fatal');
    expect(channelLabel('access', 0x4000)).toBe('unknown');
    expect(channelLabel('error', 0x3)).toBe('unknown');
  });

  it('computes masks per kind, unsigned, and rejects unknown names', () => {
    expect(channelMask('access', ['connect', 'fail'])).toBe(0x2001);
    expect(channelMask('access', ['all'])).toBe(0xffffffff);
    expect(channelMask('access', ['none'])).toBe(0);
    expect(channelMask('access', ['devel'])).toBe(0x400);
    expect(channelMask('error', ['devel'])).toBe(0x1);
    expect(channelMask('error', ['warn', 'rerror'])).toBe(0x18);
    expect(() => channelMask('error', ['connect'])).toThrow(TypeError);
    expect(() => channelMask('error', ['access_core'])).toThrow(TypeError);
    expect(() => channelMask('access', ['nope'])).toThrow(TypeError);
    expect(() => channelMask('access', ['toString'])).toThrow(TypeError);
  });
});

describe('ChannelLogger', () => {
  it('starts with the dynamic channels equal to the static ones (WebSocket++ endpoint behaviour)', () => {
    const log = new ChannelLogger('access', stream(collector(), ['connect', 'disconnect', 'fail']));
    expect(log.kind).toBe('access');
    expect(log.staticMask).toBe(0x2003);
    expect(log.mask).toBe(0x2003);
    expect(new ChannelLogger('access', stub()).mask).toBe(0);
  });

  it("keeps 'all' within the kind's defined bits", () => {
    expect(new ChannelLogger('access', stream(collector(), ['all'])).staticMask).toBe(0x3fff);
    expect(new ChannelLogger('error', stream(collector(), ['all'])).staticMask).toBe(0x3f);
    expect(new ChannelLogger('access', stream(collector(), ['access_core'])).mask).toBe(0x3003);
  });

  it('rejects a spec with channels of the other kind', () => {
    expect(() => new ChannelLogger('error', stream(collector(), ['connect']))).toThrow(TypeError);
    expect(() => stream(collector(), ['conect' as string])).toThrow(TypeError);
  });

  it('sets and clears channels, groups included', () => {
    const log = new ChannelLogger('access', stream(collector(), ['connect', 'disconnect', 'http', 'fail', 'frame_header']));
    log.clearChannels('all');
    expect(log.mask).toBe(0);
    log.setChannels('connect');
    expect(log.mask).toBe(0x1);
    log.setChannels(['disconnect', 'fail']);
    expect(log.mask).toBe(0x2003);
    log.clearChannels('disconnect');
    expect(log.mask).toBe(0x2001);
    log.setChannels('access_core');
    expect(log.mask).toBe(0x3003);
    log.setChannels('all');
    expect(log.mask).toBe(0x300b);
    log.clearChannels('none');
    expect(log.mask).toBe(0x300b);
    log.clearChannels(['access_core']);
    expect(log.mask).toBe(0x8);
    log.setChannels('none');
    expect(log.mask).toBe(0);
    expect(log.isEnabled(AccessChannel.frame_header)).toBe(false);
    log.setChannels(['none', 'frame_header']);
    expect(log.isEnabled(AccessChannel.frame_header)).toBe(true);
  });

  it('keeps channels outside the static set off at run time', () => {
    const { spec, log: sinkLog } = spySpec(['connect']);
    const log = new ChannelLogger('access', spec);
    log.setChannels('all');
    expect(log.mask).toBe(0x1);
    (log.setChannels as (c: string) => void)('frame_header');
    expect(log.mask).toBe(0x1);
    expect(log.isEnabled(AccessChannel.frame_header)).toBe(false);
    log.write(AccessChannel.frame_header, 'nope');
    expect(sinkLog).not.toHaveBeenCalled();
    expect(() => (log.setChannels as (c: string) => void)('no_such')).toThrow(TypeError);
  });

  it('never builds the message nor calls the sink for a disabled channel', () => {
    const { spec, log: sinkLog } = spySpec(['connect', 'disconnect']);
    const log = new ChannelLogger('access', spec);
    log.clearChannels('disconnect');
    const build = vi.fn(() => 'built');
    log.write(AccessChannel.disconnect, build); // dynamically off
    log.write(AccessChannel.frame_payload, build); // statically off
    log.write(AccessChannel.frame_payload, 'plain');
    expect(build).not.toHaveBeenCalled();
    expect(sinkLog).not.toHaveBeenCalled();

    log.write(AccessChannel.connect, build);
    expect(build).toHaveBeenCalledTimes(1);
    expect(sinkLog).toHaveBeenCalledWith('access', AccessChannel.connect, 'built');
  });

  it('with the stub, makes no sink at all and writes nothing', () => {
    const createSink = vi.fn(stub().createSink);
    const spec = { ...stub(), createSink };
    const log = new ChannelLogger('error', spec);
    const build = vi.fn(() => 'x');
    log.setChannels('all');
    log.write(ErrorChannel.fatal, build);
    expect(log.mask).toBe(0);
    expect(build).not.toHaveBeenCalled();
    expect(createSink).not.toHaveBeenCalled();
    expect(logging.stub).toBe(stub);
  });
});

describe('stream logger', () => {
  it("writes WebSocket++'s basic line format", () => {
    const out = collector();
    const log = new ChannelLogger('access', stream(out, ['connect', 'app']));
    log.write(AccessChannel.connect, 'hello');
    log.write(AccessChannel.app, () => 'from app');
    expect(out.lines).toHaveLength(2);
    expect(out.lines[0]).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \[connect\] hello\n$/);
    expect(out.lines[1]).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \[application\] from app\n$/);
  });

  it('prints local time', () => {
    vi.useFakeTimers({ now: new Date(2024, 0, 2, 3, 4, 5) });
    try {
      const out = collector();
      const log = new ChannelLogger('error', stream(out, ['warn', 'rerror']));
      log.write(ErrorChannel.warn, 'careful');
      vi.setSystemTime(new Date(2024, 0, 2, 3, 4, 6));
      log.write(ErrorChannel.rerror, 'broken');
      expect(out.lines).toEqual(['[2024-01-02 03:04:05] [warning] careful\n', '[2024-01-02 03:04:06] [error] broken\n']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('copies and freezes its channel list', () => {
    const channels = ['connect'];
    const spec = stream(collector(), channels);
    channels.push('fail');
    expect(spec.channels).toEqual(['connect']);
    expect(Object.isFrozen(spec.channels)).toBe(true);
    expect(spec).toMatchObject({ kind: 'logger', name: 'stream' });
  });
});

describe('custom sink logger', () => {
  const fake = (withFatal: boolean) => {
    const sink = {
      info: vi.fn<PinoLike['info']>(),
      warn: vi.fn<PinoLike['warn']>(),
      error: vi.fn<PinoLike['error']>(),
      debug: vi.fn<PinoLike['debug']>(),
      ...(withFatal ? { fatal: vi.fn<PinoLike['info']>() } : {}),
    };
    return sink;
  };

  it('maps access entries to info', () => {
    const sink = fake(true);
    const log = new ChannelLogger('access', custom(sink, ['all']));
    log.write(AccessChannel.connect, 'c');
    log.write(AccessChannel.app, 'a');
    expect(sink.info.mock.calls).toEqual([
      [{ kind: 'access', channel: 'connect' }, 'c'],
      [{ kind: 'access', channel: 'application' }, 'a'],
    ]);
    expect(sink.error).not.toHaveBeenCalled();
  });

  it("maps error channels like WebSocket++'s syslog logger", () => {
    const sink = fake(true);
    const log = new ChannelLogger('error', custom(sink, ['all']));
    for (const [name, bit] of Object.entries(ErrorChannel)) log.write(bit, name);
    expect(sink.debug.mock.calls).toEqual([
      [{ kind: 'error', channel: 'devel' }, 'devel'],
      [{ kind: 'error', channel: 'library' }, 'library'],
    ]);
    expect(sink.info.mock.calls).toEqual([[{ kind: 'error', channel: 'info' }, 'info']]);
    expect(sink.warn.mock.calls).toEqual([[{ kind: 'error', channel: 'warning' }, 'warn']]);
    expect(sink.error.mock.calls).toEqual([[{ kind: 'error', channel: 'error' }, 'rerror']]);
    expect(sink.fatal?.mock.calls).toEqual([[{ kind: 'error', channel: 'fatal' }, 'fatal']]);
  });

  it('sends fatal to error when the sink has no fatal', () => {
    const sink = fake(false);
    new ChannelLogger('error', custom(sink, ['fatal'])).write(ErrorChannel.fatal, 'bye');
    expect(sink.error).toHaveBeenCalledWith({ kind: 'error', channel: 'fatal' }, 'bye');
    expect(pinoLevel('access', AccessChannel.fail)).toBe('info');
  });

  it('calls the sink methods with the sink as `this`', () => {
    const seen: unknown[] = [];
    const sink = {
      tag: 'me',
      info(this: { tag: string }) {
        seen.push(this.tag);
      },
      warn() {},
      error() {},
      debug() {},
    };
    new ChannelLogger('access', custom(sink, ['connect'])).write(AccessChannel.connect, 'x');
    expect(seen).toEqual(['me']);
  });
});

describe('diagnostics_channel logger', () => {
  it('publishes on wspp:<kind>:<channel> to subscribers', () => {
    const received: unknown[] = [];
    const fn = (message: unknown, name: string | symbol) => received.push([name, message]);
    const log = new ChannelLogger('access', diagnostics(['connect', 'app']));
    diagnosticsChannel.subscribe('wspp:access:connect', fn);
    try {
      const before = Date.now();
      log.write(AccessChannel.connect, () => 'hello');
      log.write(AccessChannel.app, () => 'nobody listens');
      expect(received).toHaveLength(1);
      const [name, entry] = received[0] as [string, LogEntry];
      expect(name).toBe('wspp:access:connect');
      expect(entry).toMatchObject({ kind: 'access', channel: 'connect', message: 'hello' });
      expect(entry.time).toBeGreaterThanOrEqual(before);
      expect(entry.time).toBeLessThanOrEqual(Date.now());
    } finally {
      diagnosticsChannel.unsubscribe('wspp:access:connect', fn);
    }
  });

  it('uses channel names per kind and a custom prefix', () => {
    const fn = vi.fn();
    diagnosticsChannel.subscribe('myapp:error:warn', fn);
    try {
      new ChannelLogger('error', diagnostics(['warn'], 'myapp')).write(ErrorChannel.warn, 'w');
      expect(fn).toHaveBeenCalledTimes(1);
      expect(fn.mock.calls[0]?.[0]).toMatchObject({ kind: 'error', channel: 'warn', message: 'w' });
    } finally {
      diagnosticsChannel.unsubscribe('myapp:error:warn', fn);
    }
  });

  it('publishes nothing and builds nothing without subscribers', () => {
    const publish = vi.spyOn(diagnosticsChannel.channel('wspp:access:disconnect'), 'publish');
    const log = new ChannelLogger('access', diagnostics(['disconnect']));
    const build = vi.fn(() => 'x');
    expect(log.isEnabled(AccessChannel.disconnect)).toBe(false);
    log.write(AccessChannel.disconnect, build);
    expect(build).not.toHaveBeenCalled();
    expect(publish).not.toHaveBeenCalled();
    // Node swaps the channel's prototype on subscription: spy only while it is inactive.
    publish.mockRestore();

    const fn = vi.fn();
    diagnosticsChannel.subscribe('wspp:access:disconnect', fn);
    try {
      expect(log.isEnabled(AccessChannel.disconnect)).toBe(true);
      log.write(AccessChannel.disconnect, build);
      expect(build).toHaveBeenCalledTimes(1);
      expect(fn).toHaveBeenCalledTimes(1);
    } finally {
      diagnosticsChannel.unsubscribe('wspp:access:disconnect', fn);
    }
    log.write(AccessChannel.disconnect, build);
    expect(build).toHaveBeenCalledTimes(1);
  });
});

describe('logging namespace', () => {
  it('offers the four logger choices', () => {
    expect(Object.keys(logging).sort()).toEqual(['custom', 'diagnostics', 'stream', 'stub']);
    const kinds: LogKind[] = ['access', 'error'];
    for (const kind of kinds) expect(logging.diagnostics(['all']).createSink(kind)).toBeTypeOf('object');
  });
});
