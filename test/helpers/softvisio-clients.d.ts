// The published v1 clients ship no type declarations; the tests type what they use in v1-conformance.ts.
declare module '@softvisio/core/api' {
  const Api: new (url: string, options?: Record<string, unknown>) => object;
  export default Api;
}

declare module '@softvisio/core/file' {
  const File: new (options: { path: string }) => object;
  export default File;
}

declare module 'sv6/api' {
  const Api: { new: (url: string, options?: Record<string, unknown>) => object };
  export default Api;
}

declare module 'sv6/file' {
  const File: new (options: { path: string }) => object;
  export default File;
}
