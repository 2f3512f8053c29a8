import { expectAssignable, expectError, expectNotAssignable, expectType } from 'tsd';
import {
  ChannelLogger,
  custom,
  diagnostics,
  logging,
  stream,
  stub,
  type AccessChannelName,
  type AccessSpec,
  type ErrorChannelName,
  type ErrorSpec,
  type LoggerSpec,
  type StaticChannels,
} from '../dist/policies/logging/index.js';

declare const out: { write(chunk: string): unknown };

// Factories keep the literal channel names (const type parameters).
const spec = stream(process.stdout, ['connect', 'disconnect', 'fail']);
expectType<LoggerSpec<'connect' | 'disconnect' | 'fail'>>(spec);
expectType<LoggerSpec<'warn' | 'rerror'>>(custom(console, ['warn', 'rerror']));
expectType<LoggerSpec<'all'>>(diagnostics(['all']));
expectType<LoggerSpec<never>>(stub());
expectType<LoggerSpec<'connect'>>(logging.stream(out, ['connect']));

// setChannels / clearChannels accept the static channels and the groups, nothing else.
const access = new ChannelLogger('access', spec);
access.setChannels('connect');
access.setChannels(['disconnect', 'fail']);
access.clearChannels('fail');
access.setChannels('all');
access.setChannels('none');
access.clearChannels('all');
access.setChannels('access_core');
expectError(access.setChannels('frame_header'));
expectError(access.setChannels(['connect', 'frame_header']));
expectError(access.clearChannels('frame_header'));
expectError(access.setChannels('warn'));
expectType<number>(access.mask);
expectType<'access'>(access.kind);

// With 'all', every channel of the kind; the stub allows only groups.
const everything = new ChannelLogger('access', stream(out, ['all']));
everything.setChannels('frame_header');
everything.setChannels(['message_payload', 'app']);
expectError(everything.setChannels('rerror'));
const none = new ChannelLogger('error', stub());
none.setChannels('all');
none.setChannels('none');
expectError(none.setChannels('warn'));
expectError(none.setChannels('access_core'));
const errors = new ChannelLogger('error', stream(out, ['all']));
errors.setChannels('rerror');
expectError(errors.setChannels('connect'));

// StaticChannels expands groups per kind.
expectType<AccessChannelName>({} as StaticChannels<LoggerSpec<'all'>, 'access'>);
expectType<ErrorChannelName>({} as StaticChannels<LoggerSpec<'all'>, 'error'>);
const core = stream(out, ['access_core']);
expectType<'connect' | 'disconnect' | 'http' | 'fail'>({} as StaticChannels<typeof core, 'access'>);
expectType<'connect' | 'disconnect' | 'fail'>({} as StaticChannels<typeof spec, 'access'>);
expectType<never>({} as StaticChannels<typeof spec, 'error'>);
expectType<never>({} as StaticChannels<ReturnType<typeof stub>, 'access'>);
expectType<never>({} as StaticChannels<undefined, 'access'>);
expectType<'devel'>({} as StaticChannels<LoggerSpec<'devel'>, 'error'>);

// A spec is fit for a kind only if its names are that kind's.
expectAssignable<AccessSpec>(stream(out, ['connect']));
expectNotAssignable<ErrorSpec>(stream(out, ['connect']));
expectAssignable<ErrorSpec>(stream(out, ['warn', 'all']));
expectNotAssignable<AccessSpec>(stream(out, ['warn']));
expectAssignable<AccessSpec>(stub());
expectAssignable<ErrorSpec>(stub());

// A custom sink must look like pino.
expectError(custom({ info() {} }, ['connect']));

// A typed logger is still a plain ChannelLogger (what an endpoint may store), of its kind only.
expectAssignable<ChannelLogger>(access);
expectAssignable<ChannelLogger>(none);
expectAssignable<ChannelLogger<string, 'access'>>(access);
expectNotAssignable<ChannelLogger<string, 'error'>>(access);
declare const plain: ChannelLogger;
plain.setChannels('anything');
