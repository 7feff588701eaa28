import { Ajv, type ValidateFunction } from 'ajv';
import type { ParamSpec } from './method.ts';

/**
 * Positional parameter validation as the original server did it: ajv with type coercion (`"10"`
 * becomes 10 for an integer, `100` becomes "100" for a string, `null` becomes "" for a required
 * string), `null` accepted for optional parameters, one message per invalid parameter.
 */
const ajv = new Ajv({ coerceTypes: true, strict: false, allErrors: false, useDefaults: false });

export type ParamsValidator = (args: unknown[]) => string | null;

export function compileParams(params: readonly ParamSpec[]): ParamsValidator {
  if (params.length === 0) return (args) => (args.length > 0 ? 'Method require no parameters' : null);
  const required = params.reduce((count, param, index) => (param.required ? index + 1 : count), 0);
  // Each schema sits under a holder property so ajv can replace coerced values in place.
  const validators: ValidateFunction[] = params.map((param) =>
    ajv.compile({ type: 'object', properties: { value: param.schema }, required: ['value'] }),
  );
  return (args) => {
    if (args.length < required || args.length > params.length) return 'Invalid number of parameters';
    let messages: string[] | null = null;
    for (let index = 0; index < args.length; index++) {
      const param = params[index]!;
      if ((args[index] === null || args[index] === undefined) && !param.required) continue;
      const holder = { value: args[index] };
      if (validators[index]!(holder)) {
        args[index] = holder.value;
      } else {
        (messages ??= []).push(`Parameter "${param.name}" is invalid`);
      }
    }
    return messages ? messages.join('; ') : null;
  };
}
