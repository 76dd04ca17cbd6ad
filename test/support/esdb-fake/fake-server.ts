// A FAKE EventStoreDB: a gRPC server that speaks the protocol of the real one (Streams Read,
// Append and BatchAppend, ServerFeatures) on the service definitions the client package ships,
// over an in-memory FakeLog. Insecure, on 127.0.0.1 and an ephemeral port. It lets the adapter's
// contract tests run in CI through the client's production code paths; it proves our mapping,
// not the server's semantics (which the same tests check against a real server when
// ESDB_CONNECTION_STRING is set).
import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { type FakeExpected, FakeLog, type ProposedEvent, type StoredEvent } from './fake-log.ts';
import {
  Any,
  Empty,
  rpcStatus,
  ServerFeaturesService,
  StreamsService,
  serverFeatures,
  shared,
  streams,
} from './proto.ts';

type ReadReq = InstanceType<typeof streams.ReadReq>;
type ReadResp = InstanceType<typeof streams.ReadResp>;
type FilterOptions = InstanceType<typeof streams.ReadReq.Options.FilterOptions>;
type Uuid = InstanceType<typeof shared.UUID>;
type Identifier = InstanceType<typeof shared.StreamIdentifier>;
type Message = InstanceType<typeof streams.BatchAppendReq.ProposedMessage>;

export type FakeEsdbOptions = {
  /** Listen on this port (to restart a killed fake where clients expect it); default ephemeral. */
  readonly port?: number;
  /** The data; pass the previous fake's `log` to restart "with the same data". */
  readonly log?: FakeLog;
  /** Offer BatchAppend in ServerFeatures (default true, as servers since 21.10 do). */
  readonly batchAppend?: boolean;
};

export type FakeEsdb = {
  readonly port: number;
  /** `esdb://127.0.0.1:PORT?tls=false` */
  readonly connectionString: string;
  readonly log: FakeLog;
  readonly calls: { appends: number; batchAppends: number; reads: number; subscriptions: number };
  /** Drops every connection at once and stops listening, like a crashed server. */
  kill(): void;
  /** Ends open subscriptions, stops listening, and cuts whatever calls are still open (a
   * client's BatchAppend stream) after half a second. */
  stop(): Promise<void>;
  /** Ends every open subscription with status OK, as the server does when it shuts one. */
  endSubscriptions(): void;
  /** Stores the next append, then fails its call with UNAVAILABLE: the answer is lost. */
  loseNextAppendAnswer(): void;
};

const utf8 = new TextDecoder('utf-8', { fatal: true });
const streamName = (identifier: Identifier | undefined): string =>
  utf8.decode(identifier?.getStreamName_asU8() ?? new Uint8Array());
const identifierOf = (name: string): Identifier => {
  const identifier = new shared.StreamIdentifier();
  identifier.setStreamName(new TextEncoder().encode(name));
  return identifier;
};

const uuidString = (uuid: Uuid | undefined): string => {
  if (uuid === undefined) throw new Error('missing event id');
  if (uuid.hasString()) return uuid.getString().toLowerCase();
  const structured = uuid.getStructured();
  const hi = BigInt.asUintN(64, BigInt(structured?.getMostSignificantBits() ?? '0'));
  const lo = BigInt.asUintN(64, BigInt(structured?.getLeastSignificantBits() ?? '0'));
  const hex = ((hi << 64n) | lo).toString(16).padStart(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

const proposedEvent = (message: Message): ProposedEvent => {
  const metadata = message.getMetadataMap();
  return {
    id: uuidString(message.getId()),
    type: metadata.get('type') ?? '',
    contentType: metadata.get('content-type') ?? 'application/octet-stream',
    data: message.getData_asU8(),
    metadata: message.getCustomMetadata_asU8(),
  };
};

const recorded = (event: StoredEvent) => {
  const record = new streams.ReadResp.ReadEvent.RecordedEvent();
  const id = new shared.UUID();
  id.setString(event.id);
  record.setId(id);
  record.setStreamIdentifier(identifierOf(event.stream));
  record.setStreamRevision(String(event.revision));
  record.setCommitPosition(String(event.position));
  record.setPreparePosition(String(event.position));
  const metadata = record.getMetadataMap();
  metadata.set('type', event.type);
  metadata.set('created', String(event.created));
  metadata.set('content-type', event.contentType);
  record.setData(event.data);
  record.setCustomMetadata(event.metadata);
  return record;
};

const eventResponse = (event: StoredEvent, fromAll: boolean): ReadResp => {
  const read = new streams.ReadResp.ReadEvent();
  read.setEvent(recorded(event));
  if (fromAll) read.setCommitPosition(String(event.position));
  else read.setNoPosition(new shared.Empty());
  const response = new streams.ReadResp();
  response.setEvent(read);
  return response;
};

const filterOf = (filter: FilterOptions | undefined): ((e: StoredEvent) => boolean) => {
  if (filter === undefined) return () => true;
  const onStream = filter.hasStreamIdentifier();
  const expression = onStream ? filter.getStreamIdentifier() : filter.getEventType();
  const prefixes = expression?.getPrefixList() ?? [];
  const regex = expression?.getRegex() ? new RegExp(expression.getRegex()) : undefined;
  return (e) => {
    if (e.stream.startsWith('$')) return false; // the server's default filter on $all
    const subject = onStream ? e.stream : e.type;
    return regex ? regex.test(subject) : prefixes.some((p) => subject.startsWith(p));
  };
};

const expectedOf = (
  options: {
    hasAny(): boolean;
    hasNoStream(): boolean;
    hasStreamExists(): boolean;
  },
  revision: () => string,
): FakeExpected =>
  options.hasAny()
    ? 'any'
    : options.hasNoStream()
      ? 'no_stream'
      : options.hasStreamExists()
        ? 'stream_exists'
        : BigInt(revision());

const wrongExpectedVersionStatus = (current: bigint, expected: FakeExpected) => {
  const details = new shared.WrongExpectedVersion();
  if (current < 0n) details.setCurrentNoStream(new Empty());
  else details.setCurrentStreamRevision(String(current));
  if (expected === 'any') details.setExpectedAny(new Empty());
  else if (expected === 'no_stream') details.setExpectedNoStream(new Empty());
  else if (expected === 'stream_exists') details.setExpectedStreamExists(new Empty());
  else details.setExpectedStreamPosition(String(expected));
  const any = new Any();
  any.pack(details.serializeBinary(), 'event_store.client.WrongExpectedVersion');
  const status = new rpcStatus.Status();
  status.setCode(9); // FAILED_PRECONDITION
  status.setMessage('WrongExpectedVersion');
  status.setDetails(any);
  return status;
};

const UNAVAILABLE: Partial<grpc.ServiceError> = {
  code: grpc.status.UNAVAILABLE,
  details: 'fake EventStoreDB: the answer to this append was lost',
};

export const startFakeEsdb = async (options: FakeEsdbOptions = {}): Promise<FakeEsdb> => {
  const log = options.log ?? new FakeLog();
  const offerBatchAppend = options.batchAppend ?? true;
  const calls = { appends: 0, batchAppends: 0, reads: 0, subscriptions: 0 };
  const subscriptions = new Set<() => void>();
  let loseAnswer = false;
  const takeLoseAnswer = () => {
    const lose = loseAnswer;
    loseAnswer = false;
    return lose;
  };

  const server = new grpc.Server();

  server.addService(ServerFeaturesService, {
    getSupportedMethods: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
      const methods = new serverFeatures.SupportedMethods();
      const names = ['read', 'append', ...(offerBatchAppend ? ['batchappend'] : [])];
      for (const name of names) {
        const method = new serverFeatures.SupportedMethod();
        method.setServiceName('event_store.client.streams.streams');
        method.setMethodName(name);
        methods.addMethods(method);
      }
      methods.setEventStoreServerVersion('24.10.0-fake');
      callback(null, methods);
    },
  });

  const readStream = (call: grpc.ServerWritableStream<ReadReq, ReadResp>, request: ReadReq) => {
    const opts = request.getOptions()!;
    const s = opts.getStream()!;
    const name = streamName(s.getStreamIdentifier());
    const events = log.stream(name);
    if (events.length === 0) {
      const notFound = new streams.ReadResp.StreamNotFound();
      notFound.setStreamIdentifier(identifierOf(name));
      const response = new streams.ReadResp();
      response.setStreamNotFound(notFound);
      call.write(response);
      call.end();
      return;
    }
    const count = opts.hasCount() ? Number(BigInt(opts.getCount())) : events.length;
    const last = BigInt(events.length - 1);
    const forwards = opts.getReadDirection() === streams.ReadReq.Options.ReadDirection.FORWARDS;
    const revision = s.hasRevision() ? BigInt(s.getRevision()) : undefined;
    let selected: StoredEvent[];
    if (forwards) {
      const from = revision ?? (s.hasEnd() ? last + 1n : 0n);
      selected = from > last ? [] : events.slice(Number(from), Number(from) + count);
    } else {
      const from = Number(
        revision === undefined ? (s.hasStart() ? 0n : last) : revision < last ? revision : last,
      );
      selected = events.slice(Math.max(0, from - count + 1), from + 1).reverse();
    }
    for (const event of selected) call.write(eventResponse(event, false));
    call.end();
  };

  const readAll = (call: grpc.ServerWritableStream<ReadReq, ReadResp>, request: ReadReq) => {
    const opts = request.getOptions()!;
    const all = opts.getAll()!;
    const forwards = opts.getReadDirection() === streams.ReadReq.Options.ReadDirection.FORWARDS;
    const count = Number(BigInt(opts.getCount()));
    const matches = filterOf(opts.getFilter());
    const at = all.hasPosition() ? BigInt(all.getPosition()!.getCommitPosition()) : undefined;
    let selected: StoredEvent[];
    if (forwards) {
      // Inclusive of the event at the position, as the server's forward reads are.
      selected = all.hasEnd() ? [] : log.events.filter((e) => at === undefined || e.position >= at);
    } else {
      selected = all.hasStart()
        ? []
        : log.events.filter((e) => at === undefined || e.position < at).reverse();
    }
    for (const event of selected.filter(matches).slice(0, count)) {
      call.write(eventResponse(event, true));
    }
    call.end();
  };

  const subscribeAll = async (
    call: grpc.ServerWritableStream<ReadReq, ReadResp>,
    request: ReadReq,
  ) => {
    calls.subscriptions += 1;
    const opts = request.getOptions()!;
    const all = opts.getAll()!;
    const matches = filterOf(opts.getFilter());
    let index = 0;
    if (all.hasEnd()) index = log.events.length;
    else if (all.hasPosition()) {
      const at = BigInt(all.getPosition()!.getCommitPosition());
      index = log.events.findIndex((e) => e.position > at); // exclusive, as subscriptions are
      if (index < 0) index = log.events.length;
    }
    let done = false;
    let wake: (() => void) | undefined;
    const end = () => {
      if (done) return;
      done = true;
      wake?.();
      call.end();
    };
    const unlisten = log.onAppend(() => wake?.());
    subscriptions.add(end);
    call.on('cancelled', () => {
      done = true;
      wake?.();
    });
    call.on('error', () => {
      done = true;
      wake?.();
    });

    const confirmation = new streams.ReadResp.SubscriptionConfirmation();
    confirmation.setSubscriptionId(crypto.randomUUID());
    const confirmed = new streams.ReadResp();
    confirmed.setConfirmation(confirmation);
    call.write(confirmed);
    let caughtUp = false;
    try {
      while (!done) {
        while (!done && index < log.events.length) {
          const event = log.events[index++]!;
          if (!matches(event)) continue;
          if (!call.write(eventResponse(event, true))) await once(call, 'drain');
        }
        if (done) break;
        if (!caughtUp) {
          caughtUp = true;
          const response = new streams.ReadResp();
          response.setCaughtUp(new streams.ReadResp.CaughtUp());
          call.write(response);
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (done || index < log.events.length) resolve();
        });
        wake = undefined;
      }
    } finally {
      unlisten();
      subscriptions.delete(end);
    }
  };

  server.addService(StreamsService, {
    read: (call: grpc.ServerWritableStream<ReadReq, ReadResp>) => {
      calls.reads += 1;
      const request = call.request;
      const opts = request.getOptions();
      if (opts === undefined) {
        call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'no options' });
        return;
      }
      if (opts.hasStream()) {
        if (opts.hasSubscription()) {
          call.emit('error', {
            code: grpc.status.UNIMPLEMENTED,
            details: 'fake: no stream subscriptions',
          });
          return;
        }
        readStream(call, request);
      } else if (opts.hasSubscription()) void subscribeAll(call, request);
      else readAll(call, request);
    },

    append: (
      call: grpc.ServerReadableStream<InstanceType<typeof streams.AppendReq>, unknown>,
      callback: grpc.sendUnaryData<InstanceType<typeof streams.AppendResp>>,
    ) => {
      calls.appends += 1;
      let stream = '';
      let expected: FakeExpected = 'any';
      const batch: ProposedEvent[] = [];
      call.on('data', (request: InstanceType<typeof streams.AppendReq>) => {
        const o = request.getOptions();
        if (o) {
          stream = streamName(o.getStreamIdentifier());
          expected = expectedOf(o, () => o.getRevision());
        }
        const message = request.getProposedMessage();
        if (message) batch.push(proposedEvent(message as unknown as Message));
      });
      call.on('end', () => {
        const outcome = log.append(stream, expected, batch);
        if (takeLoseAnswer()) {
          callback(UNAVAILABLE as grpc.ServiceError);
          return;
        }
        const response = new streams.AppendResp();
        if (outcome.kind === 'wrong-expected-version') {
          const wrong = new streams.AppendResp.WrongExpectedVersion();
          if (outcome.current < 0n) wrong.setCurrentNoStream(new shared.Empty());
          else wrong.setCurrentRevision(String(outcome.current));
          if (expected === 'any') wrong.setExpectedAny(new shared.Empty());
          else if (expected === 'no_stream') wrong.setExpectedNoStream(new shared.Empty());
          else if (expected === 'stream_exists') wrong.setExpectedStreamExists(new shared.Empty());
          else wrong.setExpectedRevision(String(expected));
          response.setWrongExpectedVersion(wrong);
        } else {
          const success = new streams.AppendResp.Success();
          success.setCurrentRevision(String(outcome.lastRevision));
          if (outcome.position === undefined) success.setNoPosition(new shared.Empty());
          else {
            const position = new streams.AppendResp.Position();
            position.setCommitPosition(String(outcome.position));
            position.setPreparePosition(String(outcome.position));
            success.setPosition(position);
          }
          response.setSuccess(success);
        }
        callback(null, response);
      });
    },

    batchAppend: (
      call: grpc.ServerDuplexStream<
        InstanceType<typeof streams.BatchAppendReq>,
        InstanceType<typeof streams.BatchAppendResp>
      >,
    ) => {
      calls.batchAppends += 1;
      const pending = new Map<
        string,
        { stream: string; expected: FakeExpected; batch: ProposedEvent[] }
      >();
      call.on('data', (request: InstanceType<typeof streams.BatchAppendReq>) => {
        const correlation = uuidString(request.getCorrelationId());
        const o = request.getOptions();
        if (o) {
          pending.set(correlation, {
            stream: streamName(o.getStreamIdentifier()),
            expected: expectedOf(o, () => o.getStreamPosition()),
            batch: [],
          });
        }
        const write = pending.get(correlation);
        if (write === undefined) return;
        for (const message of request.getProposedMessagesList())
          write.batch.push(proposedEvent(message));
        if (!request.getIsFinal()) return;
        pending.delete(correlation);
        const outcome = log.append(write.stream, write.expected, write.batch);
        if (takeLoseAnswer()) {
          call.emit('error', UNAVAILABLE);
          return;
        }
        const response = new streams.BatchAppendResp();
        response.setCorrelationId(request.getCorrelationId());
        response.setStreamIdentifier(identifierOf(write.stream));
        if (outcome.kind === 'wrong-expected-version') {
          response.setError(wrongExpectedVersionStatus(outcome.current, write.expected));
        } else {
          const success = new streams.BatchAppendResp.Success();
          success.setCurrentRevision(String(outcome.lastRevision));
          if (outcome.position === undefined) success.setNoPosition(new Empty());
          else {
            const position = new shared.AllStreamPosition();
            position.setCommitPosition(String(outcome.position));
            position.setPreparePosition(String(outcome.position));
            success.setPosition(position);
          }
          response.setSuccess(success);
        }
        call.write(response);
      });
      call.on('end', () => call.end());
    },
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `127.0.0.1:${options.port ?? 0}`,
      grpc.ServerCredentials.createInsecure(),
      (error, bound) => (error ? reject(error) : resolve(bound)),
    );
  });

  const endSubscriptions = () => {
    for (const end of [...subscriptions]) end();
  };

  return {
    port,
    connectionString: `esdb://127.0.0.1:${port}?tls=false`,
    log,
    calls,
    kill: () => server.forceShutdown(),
    stop: async () => {
      endSubscriptions();
      // Clients may hold other calls open; a real server stops waiting for them too.
      await new Promise<void>((resolve) => {
        // forceShutdown does not call tryShutdown's callback, hence both paths resolve.
        const grace = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 500);
        server.tryShutdown(() => {
          clearTimeout(grace);
          resolve();
        });
      });
    },
    endSubscriptions,
    loseNextAppendAnswer: () => {
      loseAnswer = true;
    },
  };
};
