// Job and package `spec` files of a release directory, validated with file/path/line errors.
import { z } from 'zod';
import { str } from '../manifest/schemas.js';
import { parseYamlMapping, validateAt } from '../manifest/validate.js';

const stringList = z.array(str);

const propertySpec = z
  .union([z.null(), z.looseObject({ description: z.unknown().optional(), default: z.unknown().optional(), example: z.unknown().optional() })])
  .transform((p) => p ?? {});

const link = z.looseObject({ name: str, type: str, optional: z.boolean().optional(), properties: stringList.optional() });

export const jobSpecSchema = z.object({
  name: str,
  description: z.string().optional(),
  templates: z.record(z.string(), str).nullish().transform((t) => t ?? {}),
  packages: stringList.nullish().transform((p) => p ?? []),
  properties: z.record(z.string(), propertySpec).nullish().transform((p) => p ?? {}),
  consumes: z.array(link).optional(),
  provides: z.array(link).optional(),
  logs: z.record(z.string(), str).optional(),
});
export type JobSpec = z.output<typeof jobSpecSchema>;

export const packageSpecSchema = z.object({
  name: str,
  files: stringList.nullish().transform((f) => f ?? []),
  excluded_files: stringList.nullish().transform((f) => f ?? []),
  dependencies: stringList.nullish().transform((d) => d ?? []),
});
export type PackageSpec = z.output<typeof packageSpecSchema>;

export function parseJobSpec(text: string, file: string): JobSpec {
  return validateAt(jobSpecSchema, parseYamlMapping(text, file), file);
}

export function parsePackageSpec(text: string, file: string): PackageSpec {
  return validateAt(packageSpecSchema, parseYamlMapping(text, file), file);
}
