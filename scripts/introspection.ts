import path from 'node:path';
import { load, loadConfig, minifyIntrospection, outputIntrospectionFile, parseConfig } from 'gql.tada/internal';

/**
 * The gql.tada introspection file, built from the published SDL the way `gql.tada generate output`
 * builds it. The SDL and output paths come from the `gql.tada/ts-plugin` entry in tsconfig.json,
 * which the editor plugin reads too.
 */
export async function introspectionOutput(): Promise<{ file: string; content: string }> {
  const { pluginConfig, rootPath } = await loadConfig(process.cwd());
  const config = parseConfig(pluginConfig, rootPath);
  if (!('schema' in config) || typeof config.schema !== 'string' || !config.tadaOutputLocation) {
    throw new Error('tsconfig.json: the gql.tada plugin entry needs "schema" (an SDL file) and "tadaOutputLocation"');
  }
  const { introspection } = await load({ origin: config.schema, rootPath }).load();
  const file = path.relative(process.cwd(), path.resolve(rootPath, config.tadaOutputLocation));
  const content = outputIntrospectionFile(minifyIntrospection(introspection), { fileType: file, shouldPreprocess: true });
  return { file, content };
}
