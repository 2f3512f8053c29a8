import { expectAssignable, expectError, expectNotAssignable, expectType } from 'tsd';
import {
  ClientProcessor,
  ServerProcessor,
  WsppError,
  parseClosePayload,
  type ErrorCode,
  type ErrorCodeOf,
  type ProcessorState,
} from '../dist/index.js';

// Error codes are `category.name` literals, grouped by category.
expectAssignable<ErrorCode>('processor.invalid_utf8');
expectAssignable<ErrorCode>('websocket.bad_connection');
expectNotAssignable<ErrorCode>('processor.no_such_error');
expectNotAssignable<ErrorCodeOf<'http'>>('processor.invalid_utf8');
expectAssignable<ErrorCodeOf<'http'>>('http.head_too_large');
expectError(new WsppError('not.a_code'));

// A constructed error keeps its literal code; `is` narrows.
const err = new WsppError('processor.message_too_big');
expectType<'processor.message_too_big'>(err.code);
declare const any: WsppError;
if (any.is('transport.eof')) expectType<'transport.eof'>(any.code);
expectType<number>(any.closeCode);

// Fallible protocol calls return errors as values.
declare const server: ServerProcessor;
declare const client: ClientProcessor;
expectType<WsppError | undefined>(server.send(1, 'text'));
expectType<WsppError | undefined>(client.close(1000, 'bye'));
expectError(server.send(8, 'close is not a data opcode'));
expectType<ProcessorState>(client.state);
expectType<{ code: number; reason: string } | WsppError>(parseClosePayload(new Uint8Array(2)) as ReturnType<typeof parseClosePayload>);
