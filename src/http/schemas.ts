// Shared JSON schemas of the HTTP API (typebox). Unknown properties are refused everywhere.
import { type TSchema, Type } from '@sinclair/typebox';

export const Id = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$',
});
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
export const Strict = { additionalProperties: false } as const;

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    requestId: Type.Optional(Type.String()),
    field: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

export const errorResponses = {
  400: ProblemSchema,
  401: ProblemSchema,
  404: ProblemSchema,
  409: ProblemSchema,
  503: ProblemSchema,
};

export const IdentitySchema = Type.Object({
  id: Type.String(),
  directoryId: Type.String(),
  principalId: Type.String(),
  name: Type.String(),
  status: Type.String(),
  removed: Type.Boolean(),
});

export const PrincipalSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  briefName: Type.String(),
  fullName: Type.String(),
  email: Nullable(Type.String()),
  emailStatus: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  active: Type.Boolean(),
  deleted: Type.Boolean(),
  createdAt: Type.String(),
  createdBy: Type.String(),
  origin: Type.String(),
});
