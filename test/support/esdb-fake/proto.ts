// The message classes and service definitions generated from EventStoreDB's .proto files, as
// shipped inside @eventstore/db-client. Loaded with require: they are CommonJS modules whose
// exports ESM cannot see by name, and the fake must share them (and @grpc/grpc-js) with the
// client so both ends speak the exact same protocol.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const generated = (name: string) => `@eventstore/db-client/generated/${name}`;

export const streams = require(
  generated('streams_pb.js'),
) as typeof import('@eventstore/db-client/generated/streams_pb.js');
export const shared = require(
  generated('shared_pb.js'),
) as typeof import('@eventstore/db-client/generated/shared_pb.js');
export const rpcStatus = require(
  generated('status_pb.js'),
) as typeof import('@eventstore/db-client/generated/status_pb.js');
export const serverFeatures = require(
  generated('serverfeatures_pb.js'),
) as typeof import('@eventstore/db-client/generated/serverfeatures_pb.js');
export const { StreamsService } = require(
  generated('streams_grpc_pb.js'),
) as typeof import('@eventstore/db-client/generated/streams_grpc_pb.js');
export const { ServerFeaturesService } = require(
  generated('serverfeatures_grpc_pb.js'),
) as typeof import('@eventstore/db-client/generated/serverfeatures_grpc_pb.js');

// google.protobuf.Any and Empty, resolved from the client package so they are its instances.
const fromClient = createRequire(require.resolve('@eventstore/db-client/package.json'));
export const { Any } = fromClient(
  'google-protobuf/google/protobuf/any_pb.js',
) as typeof import('google-protobuf/google/protobuf/any_pb.js');
export const { Empty } = fromClient(
  'google-protobuf/google/protobuf/empty_pb.js',
) as typeof import('google-protobuf/google/protobuf/empty_pb.js');
